"""Celery tasks of retrieval. They take ids and re-load the rows inside the tenant."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from circuits.tenancy.models.tenants import Tenant
from intelligence.rag.embeddings import configured_model_id, get_embedder
from intelligence.rag.ingest import enqueue_embedding, indexed_text
from intelligence.rag.models import Chunk, CorpusVersion, Document, DocumentStatus

log = logging.getLogger(__name__)


def refresh_progress(document_ids: set[int], model_id: str) -> None:
    """Recount each document's embedded chunks (a count, not an increment: a redelivered
    task cannot make the progress pass 100 %)."""
    rows = Document.objects.filter(pk__in=document_ids).annotate(done=Count("chunks", filter=Q(chunks__embedding_model=model_id)))
    for document in rows:
        status = DocumentStatus.READY if document.done >= document.chunk_count else DocumentStatus.EMBEDDING
        Document.objects.filter(pk=document.pk).update(embedded_count=document.done, status=status)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def embed_chunks(tenant_id: int, chunk_ids: list[int]) -> int:
    """Embed the chunks among `chunk_ids` that lack a vector from the configured model."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return 0
    model_id = configured_model_id()
    chunks = list(
        Chunk.objects.for_tenant(tenant)
        .filter(pk__in=chunk_ids)
        .exclude(embedding_model=model_id)
        .select_related("document")
        .only("id", "text", "heading", "document_id", "document__title")
    )
    if not chunks:
        return 0
    try:
        vectors = get_embedder().embed([indexed_text(c.document.title, c.heading, c.text) for c in chunks])
    except Exception as exc:
        Document.objects.filter(pk__in={c.document_id for c in chunks}).update(status=DocumentStatus.FAILED, error=f"Embedding failed: {exc}"[:2000])
        raise
    for chunk, vector in zip(chunks, vectors, strict=True):
        chunk.embedding = vector
        chunk.embedding_model = model_id
    with transaction.atomic():
        # A chunk deleted meanwhile (its document re-ingested or removed) is simply not updated.
        Chunk.objects.bulk_update(chunks, ["embedding", "embedding_model"], batch_size=200)
        CorpusVersion.bump(tenant.pk, vectors=True)
        refresh_progress({c.document_id for c in chunks}, model_id)
    return len(chunks)


@shared_task(ignore_result=True)
def reembed_stale(batch: int = 5000) -> int:
    """Re-embed vectors made by another model, and chunks whose embedding task was lost.

    Runs from beat every RAG_REEMBED_EVERY seconds; a cache lock keeps a run from queueing the
    same chunks again while the batches of the previous run are still waiting for a worker.
    """
    from django.conf import settings
    from django.core.cache import cache

    if not cache.add("rag:reembed-stale", 1, timeout=5 * settings.RAG_REEMBED_EVERY):
        return 0
    model_id = configured_model_id()
    lost_before = timezone.now() - timedelta(minutes=10)
    stale = (
        Chunk.objects.exclude(embedding_model=model_id)
        .filter(~Q(embedding_model="") | Q(document__updated_at__lt=lost_before))
        .values_list("tenant_id", "pk")
        .order_by("tenant_id", "pk")[:batch]
    )
    by_tenant: dict[int, list[int]] = {}
    for tenant_id, pk in stale:
        by_tenant.setdefault(tenant_id, []).append(pk)
    for tenant_id, ids in by_tenant.items():
        enqueue_embedding(tenant_id, ids)
    if not by_tenant:
        cache.delete("rag:reembed-stale")  # nothing queued: the next run may look again at once
    return sum(len(ids) for ids in by_tenant.values())
