"""Embedding through a real Celery worker on Redis: enqueued on commit, in batches of ids."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from intelligence.rag.embeddings import configured_model_id
from intelligence.rag.ingest import IngestDocument
from intelligence.rag.models import Document, DocumentStatus
from tests.fixtures import needs_postgres, needs_redis

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue(settings):
    """A queue of this test's own, so no other worker takes its tasks."""
    name = f"test-rag-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    return name


def _database_url() -> str:
    """The test database, for the worker process (it must see this test's rows)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def start_worker(queue: str) -> subprocess.Popen:
    """A Celery worker on `queue`, its log kept in test-artifacts/ (a failure here is read there)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "circuitos_site.settings_test", "DATABASE_URL": _database_url(), "CELERY_QUEUE": queue}
    log = (ROOT / "test-artifacts").joinpath(f"rag-worker-{queue}.log")
    log.parent.mkdir(exist_ok=True)
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "celery", "-A", "circuitos_site", "worker", "-Q", queue, "--pool=threads", "-c", "2",
         "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "INFO"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def test_a_worker_embeds_an_ingested_document_in_batches_and_progress_shows_on_it(world, queue, settings):
    settings.RAG_EMBED_INLINE = False
    settings.RAG_EMBED_BATCH = 3
    settings.RAG_CHUNK_CHARS = 120
    text = "\n\n".join(f"## Topic {i}\nFact number {i} is that item {i} ships in {i + 2} days." for i in range(12))
    document = IngestDocument.from_text(world.tenant, world.editor, text=text, source="facts.md").execute().document
    assert (document.status, document.embedded_count, document.chunk_count) == (DocumentStatus.EMBEDDING, 0, 12)
    worker = start_worker(queue)
    seen = []
    try:

        def ready():
            current = Document.objects.get(pk=document.pk)
            seen.append(current.embedded_count)
            return current if current.status == DocumentStatus.READY else None

        done = wait_for(ready, timeout=120, what="the document's embeddings")
    finally:
        stop(worker)
    assert done.embedded_count == 12 and done.progress == 1.0
    assert seen == sorted(seen) and all(n % 3 == 0 for n in seen)  # progress only grows, one batch at a time
    assert set(done.chunks.values_list("embedding_model", flat=True)) == {configured_model_id()}
    assert all(c.embedding is not None for c in done.chunks.all())
