"""Celery tasks of retrieval, and how embedding work is handed to them.

The tasks are thin: they take ids and call the work in vectors.py, which re-loads the rows
inside the tenant. `enqueue_embedding` is the one way chunks get embedded after a change
(ingest.py calls it once its transaction commits): batches on a worker, or in process when
RAG_EMBED_INLINE is on or inside `collected_embedding()`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from intelligence.rag import vectors

REEMBED_LOCK = "rag:reembed-stale"
COLLECTED_BATCH = 256  # chunks per model call when a bulk load embeds in process

_collecting = threading.local()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def embed_chunks(tenant_id: int, chunk_ids: list[int]) -> int:
    """Embed the chunks among `chunk_ids` that lack a vector from the configured model."""
    return vectors.embed_chunks(tenant_id, chunk_ids)


@shared_task(ignore_result=True)
def reembed_stale(batch: int = 5000) -> int:
    """Re-embed vectors made by another model, and chunks whose embedding task was lost.

    Runs from beat every RAG_REEMBED_EVERY seconds; a cache lock keeps a run from queueing the
    same chunks again while the batches of the previous run are still waiting for a worker.
    """
    if not cache.add(REEMBED_LOCK, 1, timeout=5 * settings.RAG_REEMBED_EVERY):
        return 0
    by_tenant = vectors.stale_chunks(batch)
    for tenant_id, ids in by_tenant.items():
        enqueue_embedding(tenant_id, ids)
    if not by_tenant:
        cache.delete(REEMBED_LOCK)  # nothing queued: the next run may look again at once
    return sum(len(ids) for ids in by_tenant.values())


def enqueue_embedding(tenant_id: int, chunk_ids: list[int]) -> None:
    """Embed `chunk_ids` in batches: on a Celery worker, or here when RAG_EMBED_INLINE is on."""
    pending = getattr(_collecting, "pending", None)
    if pending is not None:
        pending.extend((tenant_id, pk) for pk in chunk_ids)
        return
    size = settings.RAG_EMBED_BATCH
    for start in range(0, len(chunk_ids), size):
        batch = chunk_ids[start : start + size]
        if settings.RAG_EMBED_INLINE:
            vectors.embed_chunks(tenant_id, batch)
        else:
            embed_chunks.apply_async((tenant_id, batch))


@contextmanager
def collected_embedding() -> Iterator[None]:
    """Within this block, chunk ids to embed are gathered; on leaving it they are embedded here,
    in large batches (bulk loads such as `rag_eval`: one model call per batch, not per document)."""
    pending: list[tuple[int, int]] = []
    _collecting.pending = pending
    try:
        yield
    finally:
        _collecting.pending = None
    by_tenant: dict[int, list[int]] = {}
    for tenant_id, pk in pending:
        by_tenant.setdefault(tenant_id, []).append(pk)
    for tenant_id, ids in by_tenant.items():
        for start in range(0, len(ids), COLLECTED_BATCH):
            vectors.embed_chunks(tenant_id, ids[start : start + COLLECTED_BATCH])
