"""Fixtures for tests that ingest documents: embedding inline (the same work a worker runs).

Shared by the retrieval tests and the RAG steps' tests (their conftests import them)."""

from __future__ import annotations

import pytest

from intelligence.rag.ingest import IngestDocument


@pytest.fixture
def inline_embedding(settings):
    settings.RAG_EMBED_INLINE = True


@pytest.fixture
def ingest(inline_embedding, django_capture_on_commit_callbacks):
    """`ingest(tenant, actor, source, text, **kw)` → IngestResult, with its chunks embedded."""

    def _ingest(tenant, actor, source: str, text: str, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            result = IngestDocument.from_text(tenant, actor, text=text, source=source, **kwargs).execute()
        result.document.refresh_from_db()  # the embedding task updated its progress
        return result

    return _ingest


@pytest.fixture
def ingest_file(inline_embedding, django_capture_on_commit_callbacks):
    def _ingest(tenant, actor, filename: str, data: bytes, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            result = IngestDocument.from_file(tenant, actor, filename=filename, data=data, **kwargs).execute()
        result.document.refresh_from_db()
        return result

    return _ingest
