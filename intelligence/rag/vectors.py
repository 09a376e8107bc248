"""Chunk vectors: computing and storing them, and finding the ones to redo.

The embedding work itself, below both ingestion (ingest.py) and the Celery tasks (tasks.py):
a task is a thin wrapper that hands ids to `embed_chunks`, and a bulk load or
RAG_EMBED_INLINE calls it here, in process. It takes ids and re-loads the rows inside the
tenant, so a redelivered or late task embeds only what still needs it.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from circuits.tenancy.models.tenants import Tenant
from intelligence.rag.chunking import indexed_text
from intelligence.rag.embeddings import configured_model_id, get_embedder
from intelligence.rag.models import Chunk, Document, DocumentStatus

# A chunk still without any vector this long after its document changed lost its task
# (a worker died before acking it, a broker was flushed): it is queued again.
LOST_AFTER = timedelta(minutes=10)


def refresh_progress(document_ids: set[int], model_id: str) -> None:
    """Recount each document's embedded chunks (a count, not an increment: a redelivered
    task cannot make the progress pass 100 %)."""
    rows = Document.objects.filter(pk__in=document_ids).annotate(done=Count("chunks", filter=Q(chunks__embedding_model=model_id)))
    for document in rows:
        status = DocumentStatus.READY if document.done >= document.chunk_count else DocumentStatus.EMBEDDING
        Document.objects.filter(pk=document.pk).update(embedded_count=document.done, status=status)


def embed_chunks(tenant_id: int, chunk_ids: list[int]) -> int:
    """Embed the chunks among `chunk_ids` that lack a vector from the configured model; how many were."""
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
        # A chunk deleted meanwhile (its document re-ingested or removed) is simply not updated;
        # the update bumps the tenant's vector version (ChunkQuerySet).
        Chunk.objects.bulk_update(chunks, ["embedding", "embedding_model"], batch_size=200)
        refresh_progress({c.document_id for c in chunks}, model_id)
    return len(chunks)


def stale_chunks(batch: int) -> dict[int, list[int]]:
    """{tenant id: chunk ids} of up to `batch` chunks to embed again: vectors made by another
    model, and chunks whose embedding task was lost."""
    lost_before = timezone.now() - LOST_AFTER
    stale = (
        Chunk.objects.exclude(embedding_model=configured_model_id())
        .filter(~Q(embedding_model="") | Q(document__updated_at__lt=lost_before))
        .values_list("tenant_id", "pk")
        .order_by("tenant_id", "pk")[:batch]
    )
    by_tenant: dict[int, list[int]] = {}
    for tenant_id, pk in stale:
        by_tenant.setdefault(tenant_id, []).append(pk)
    return by_tenant
