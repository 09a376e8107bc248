"""Embedding through a real Celery worker on Redis: enqueued on commit, in batches of ids."""

from __future__ import annotations

import pytest

from intelligence.rag.embeddings import configured_model_id
from intelligence.rag.ingest import IngestDocument
from intelligence.rag.models import Document, DocumentStatus
from tests.engine.workers import own_queue, worker_until
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue(settings):
    return own_queue(settings, "test-rag")


def test_a_worker_embeds_an_ingested_document_in_batches_and_progress_shows_on_it(world, queue, settings):
    settings.RAG_EMBED_INLINE = False
    settings.RAG_EMBED_BATCH = 3
    settings.RAG_CHUNK_CHARS = 120
    text = "\n\n".join(f"## Topic {i}\nFact number {i} is that item {i} ships in {i + 2} days." for i in range(12))
    document = IngestDocument.from_text(world.tenant, world.editor, text=text, source="facts.md").execute().document
    assert (document.status, document.embedded_count, document.chunk_count) == (DocumentStatus.EMBEDDING, 0, 12)
    seen = []

    def ready():
        current = Document.objects.get(pk=document.pk)
        seen.append(current.embedded_count)
        return current if current.status == DocumentStatus.READY else None

    done = worker_until(queue, ready, timeout=120, what="the document's embeddings", log=f"rag-worker-{queue}.log")
    assert done.embedded_count == 12 and done.progress == 1.0
    assert seen == sorted(seen) and all(n % 3 == 0 for n in seen)  # progress only grows, one batch at a time
    assert set(done.chunks.values_list("embedding_model", flat=True)) == {configured_model_id()}
    assert all(c.embedding is not None for c in done.chunks.all())
