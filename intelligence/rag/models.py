"""Documents, their chunks (with one embedding each) and retrieval feedback, per tenant."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models, transaction

from circuits.tenancy.models.scoping import TenantOwned, TenantQuerySet
from intelligence.rag.fields import EmbeddingField

DIMENSIONS = 384


class SourceType(models.TextChoices):
    TEXT = "text", "Plain text"
    MARKDOWN = "markdown", "Markdown"
    HTML = "html", "HTML"
    PDF = "pdf", "PDF"
    URL = "url", "Web page"
    RECORD = "record", "Record"


class DocumentStatus(models.TextChoices):
    EMBEDDING = "embedding", "Embedding"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


# What a change to these Chunk columns invalidates: the BM25 index reads the text, the
# vector matrix reads the embedding. Any other column (or an unknown one) invalidates both.
SPARSE_FIELDS = frozenset({"text", "heading"})
DENSE_FIELDS = frozenset({"embedding", "embedding_model"})


def bump_for(tenant_ids: Iterable[int], fields: Iterable[str] | None = None) -> None:
    """Bump the corpus version of every tenant in `tenant_ids` for a change to `fields` of
    their chunks (None: rows added or removed — both sides)."""
    fields = None if fields is None else set(fields)
    chunks = fields is None or bool(fields & SPARSE_FIELDS) or not fields <= SPARSE_FIELDS | DENSE_FIELDS
    vectors = fields is None or bool(fields & DENSE_FIELDS) or not fields <= SPARSE_FIELDS | DENSE_FIELDS
    for tenant_id in sorted(set(tenant_ids)):  # sorted: two transactions lock the rows in one order
        CorpusVersion.bump(tenant_id, chunks=chunks, vectors=vectors)


class ChunkQuerySet(TenantQuerySet):
    """Every bulk write of chunks bumps the tenants' corpus version in the same transaction,
    so no caller can change the corpus and leave a search index believing it is current.
    (`bulk_update` is covered: Django runs it as `update()` per batch.)"""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            bump_for(o.tenant_id for o in objs)
        return created

    def update(self, **kwargs):
        with transaction.atomic(using=self.db):
            tenants = set(self.order_by().values_list("tenant_id", flat=True).distinct())
            updated = super().update(**kwargs)
            bump_for(tenants, kwargs)
        return updated

    def delete(self):
        with transaction.atomic(using=self.db):
            tenants = set(self.order_by().values_list("tenant_id", flat=True).distinct())
            deleted = super().delete()
            bump_for(tenants)
        return deleted

    delete.alters_data = True
    delete.queryset_only = True
    update.alters_data = True


class DocumentQuerySet(TenantQuerySet):
    """Deleting documents deletes their chunks by cascade (which bypasses ChunkQuerySet), so
    the bump is here too."""

    def delete(self):
        with transaction.atomic(using=self.db):
            tenants = set(self.order_by().values_list("tenant_id", flat=True).distinct())
            deleted = super().delete()
            bump_for(tenants)
        return deleted

    delete.alters_data = True
    delete.queryset_only = True


class Document(TenantOwned):
    """One ingested source. `source` names it within the tenant (file name, URL, record key):
    ingesting the same source again replaces the document when its content changed."""

    title = models.CharField(max_length=300)
    source = models.CharField(max_length=1000)
    source_type = models.CharField(max_length=20, choices=SourceType.choices)
    authority = models.FloatField(default=0.5, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    tags = models.JSONField(default=list, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    text = models.TextField(help_text="The extracted text; chunk offsets point into it.")
    content_hash = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=DocumentStatus.choices, default=DocumentStatus.EMBEDDING)
    error = models.TextField(blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    embedded_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "source"], name="rag_document_source_unique_per_tenant")]
        indexes = [models.Index(fields=["tenant", "-updated_at"], name="rag_doc_tenant_updated")]
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title

    def delete(self, *args, **kwargs):
        # The cascade to chunks (and their feedback) runs in the collector, not ChunkQuerySet.
        with transaction.atomic():
            deleted = super().delete(*args, **kwargs)
            bump_for([self.tenant_id])
        return deleted

    @property
    def progress(self) -> float:
        """The share of chunks embedded, 0–1 (1 for a document without chunks)."""
        return 1.0 if not self.chunk_count else min(1.0, self.embedded_count / self.chunk_count)


class Chunk(TenantOwned):
    """A passage of a document: `text == document.text[start:end]`. The embedding carries the
    id of the model that made it; a chunk whose model is not the configured one is re-embedded."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    heading = models.CharField(max_length=500, blank=True, help_text="The section path, e.g. 'Refunds › Enterprise'.")
    text = models.TextField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    embedding = EmbeddingField(dimensions=DIMENSIONS, null=True, blank=True)
    embedding_model = models.CharField(max_length=100, blank=True)

    objects = ChunkQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "ordinal"], name="rag_chunk_ordinal_unique")]
        indexes = [models.Index(fields=["tenant", "embedding_model"], name="rag_chunk_tenant_model")]
        ordering = ["document_id", "ordinal"]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"

    def save(self, *args, **kwargs):
        with transaction.atomic():
            super().save(*args, **kwargs)
            bump_for([self.tenant_id], kwargs.get("update_fields"))

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            deleted = super().delete(*args, **kwargs)
            bump_for([self.tenant_id])
        return deleted


class Feedback(TenantOwned):
    """A thumbs up (+1) or down (-1) on a chunk returned for a query: one per member and chunk;
    a step's votes (no user) each count, as its circuit's author decided."""

    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="feedback")
    query = models.CharField(max_length=1000, blank=True)
    value = models.SmallIntegerField(choices=[(1, "up"), (-1, "down")])
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "chunk"], name="rag_feedback_tenant_chunk")]
        # One vote per member and passage (voting again changes it): otherwise one viewer
        # clicking "helpful" ten times moves the passage for everyone in the tenant.
        constraints = [
            models.UniqueConstraint(fields=["tenant", "chunk", "user"], condition=models.Q(user__isnull=False), name="rag_feedback_one_vote_per_member")
        ]


class CorpusVersion(models.Model):
    """Per tenant, counters bumped in the same transaction as any change to its chunks or
    vectors: in-process indexes compare them (one primary-key read) to know they are stale."""

    tenant = models.OneToOneField("circuits.Tenant", on_delete=models.CASCADE, primary_key=True, related_name="+")
    chunks = models.BigIntegerField(default=0)
    vectors = models.BigIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"tenant {self.tenant_id}: chunks v{self.chunks}, vectors v{self.vectors}"

    @classmethod
    def bump(cls, tenant_id: int, *, chunks: bool = False, vectors: bool = False) -> None:
        changes = {}
        if chunks:
            changes["chunks"] = models.F("chunks") + 1
        if vectors:
            changes["vectors"] = models.F("vectors") + 1
        if cls.objects.filter(tenant_id=tenant_id).update(**changes):
            return
        try:
            with transaction.atomic():
                cls.objects.create(tenant_id=tenant_id, chunks=int(chunks), vectors=int(vectors))
        except IntegrityError:  # created meanwhile by another transaction
            cls.objects.filter(tenant_id=tenant_id).update(**changes)

    @classmethod
    def of(cls, tenant_id: int) -> tuple[int, int]:
        row = cls.objects.filter(tenant_id=tenant_id).values_list("chunks", "vectors").first()
        return row or (0, 0)
