"""Ingesting and deleting documents: the services the API, the pages and the steps share.

Ingestion parses, chunks and saves in one transaction, then — once it commits — hands the
new chunk ids to Celery in batches for embedding (`tasks.enqueue_embedding`). Ingesting a source the tenant already has
is a no-op when the text is unchanged (same sha256) and a full re-chunk when it changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from actions.net import OutboundError, display_url, guarded_request
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service
from intelligence.rag.chunking import chunk_text
from intelligence.rag.filters import as_utc
from intelligence.rag.models import Chunk, CorpusVersion, Document, DocumentStatus, Feedback, SourceType
from intelligence.rag.parsing import FILE_TYPES, Parsed, ParseError, detect_type, parse_file, parse_html, parse_record
from intelligence.rag.signals import document_ingested
from intelligence.rag.tasks import enqueue_embedding

MAX_TAGS = 20
MAX_TAG_CHARS = 50


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def retitled(document: Document) -> None:
    """After `document`'s title changed (and was saved): the title is part of every chunk's
    indexed text (chunking.indexed_text), so BM25's index moves at once and every vector is made
    again — the chunks are marked unembedded (the dense side skips them meanwhile, as after an
    ingest) and handed to the embedding task once the transaction commits."""
    tenant_id = document.tenant_id
    CorpusVersion.bump(tenant_id, chunks=True)
    chunks = Chunk.objects.filter(tenant_id=tenant_id, document=document)
    ids = list(chunks.order_by("ordinal").values_list("pk", flat=True))
    if not ids:
        return
    chunks.update(embedding_model="")  # bumps the vector version (ChunkQuerySet)
    document.status, document.embedded_count = DocumentStatus.EMBEDDING, 0
    Document.objects.filter(pk=document.pk).update(status=document.status, embedded_count=0)
    transaction.on_commit(lambda: enqueue_embedding(tenant_id, ids))


@dataclass
class IngestResult:
    document: Document
    changed: bool  # False: the same text was already there (only metadata may have changed)
    chunk_ids: list[int]


def clean_tags(tags: Any) -> list[str]:
    if tags in (None, ""):
        return []
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise ValidationError({"tags": "Give tags as a list of strings."})
    cleaned = sorted({t.strip().lower() for t in tags if t.strip()})
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": f"At most {MAX_TAGS} tags."})
    if any(len(t) > MAX_TAG_CHARS for t in cleaned):
        raise ValidationError({"tags": f"A tag has at most {MAX_TAG_CHARS} characters."})
    return cleaned


class IngestDocument(Service):
    """Add or refresh one document from parsed text (see the `from_*` constructors)."""

    perm = Perm.EDIT
    denied_message = "Only editors, admins and owners can add documents."

    def __init__(
        self,
        tenant,
        actor,
        *,
        source: str,
        source_type: str,
        parse: Any,
        title: str = "",
        authority: float | None = None,
        tags: Any = None,
        published_at: datetime | None = None,
        size_bytes: int = 0,
        field: str = "file",
    ) -> None:
        super().__init__(tenant, actor)
        self.field = field  # what errors about the content name: the upload, or the URL it came from
        self.source = (source or "").strip()
        self.source_type = source_type
        self._parse = parse  # () -> Parsed; may raise ParseError
        self.title = (title or "").strip()
        self.authority = authority
        self.tags = tags
        self.published_at = published_at
        self.size_bytes = size_bytes
        self.parsed: Parsed | None = None
        self.pieces: list = []

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def from_file(
        cls, tenant, actor, *, filename: str, data: bytes, content_type: str = "", source_type: str = "", field: str = "file", **kwargs
    ) -> IngestDocument:
        name = (filename or "").strip() or "upload"
        if len(data) > settings.RAG_MAX_UPLOAD_BYTES:
            raise ValidationError({field: f"{name} is {len(data):,} bytes; the limit is {settings.RAG_MAX_UPLOAD_BYTES:,} (RAG_MAX_UPLOAD_BYTES)."})
        if not data:
            raise ValidationError({field: f"{name} is empty."})
        try:
            kind = source_type or detect_type(name, content_type, data)
        except ParseError as exc:
            raise ValidationError({field: str(exc)}) from None
        if kind not in FILE_TYPES:
            raise ValidationError({"source_type": f"{kind!r} is not a file type; use one of {', '.join(FILE_TYPES)}."})
        kwargs.setdefault("source", name)
        return cls(
            tenant,
            actor,
            source_type=kind,
            parse=lambda: parse_file(data, kind, name, max_pdf_pages=settings.RAG_MAX_PDF_PAGES, max_chars=settings.RAG_MAX_DOCUMENT_CHARS),
            size_bytes=len(data),
            field=field,
            **kwargs,
        )

    @classmethod
    def from_text(cls, tenant, actor, *, text: str, source: str, markdown: bool = True, **kwargs) -> IngestDocument:
        data = (text or "").encode("utf-8")
        kind = SourceType.MARKDOWN if markdown else SourceType.TEXT
        return cls.from_file(tenant, actor, filename=source, data=data, source_type=kind, source=source, **kwargs)

    @classmethod
    def from_url(cls, tenant, actor, *, url: str, timeout: float = 30.0, **kwargs) -> IngestDocument:
        """Fetch a page or file through the outbound guard (private addresses refused unless the
        tenant allow-lists them) and ingest what came back."""
        try:
            response = guarded_request(tenant, "GET", url, timeout=timeout, max_bytes=settings.RAG_MAX_UPLOAD_BYTES)
        except OutboundError as exc:
            raise ValidationError({"url": str(exc)}) from None
        shown = display_url(response.url)
        if response.status_code >= 400:
            raise ValidationError({"url": f"HTTP {response.status_code} {response.reason_phrase} from {shown}".rstrip()})
        kwargs.setdefault("source", url)
        try:
            kind = detect_type(urlsplit(response.url).path, response.content_type, response.content)
        except ParseError as exc:
            raise ValidationError({"url": f"{shown}: {exc}"}) from None
        if kind == SourceType.HTML:
            page = response.content
            return cls(
                tenant, actor, source_type=SourceType.URL, parse=lambda: parse_html(page, shown, url=response.url), size_bytes=len(page), field="url", **kwargs
            )
        return cls.from_file(tenant, actor, filename=shown, data=response.content, source_type=kind, field="url", **kwargs)

    @classmethod
    def from_record(cls, tenant, actor, record, **kwargs) -> IngestDocument:
        data = dict(record.data)
        kwargs.setdefault("source", f"record:{record.object_type}:{record.pk}")
        return cls(tenant, actor, source_type=SourceType.RECORD, parse=lambda: parse_record(record.object_type, data), **kwargs)

    # -- the service ----------------------------------------------------------------------

    def validate(self) -> None:
        # PostgreSQL stores no NUL in text or JSON; the API's parser refuses them, a form does not.
        tags = self.tags if isinstance(self.tags, list | tuple) else [self.tags]
        for name, values in (("source", [self.source]), ("title", [self.title]), ("tags", tags)):
            if any(isinstance(v, str) and "\x00" in v for v in values):
                raise ValidationError({name: f"The {name} contains a NUL character (\\u0000)."})
        if not self.source:
            raise ValidationError({"source": "Name the document's source (a file name, URL or key)."})
        if len(self.source) > 1000:
            raise ValidationError({"source": "A source has at most 1000 characters."})
        if self.authority is not None:
            try:
                self.authority = float(self.authority)
            except (TypeError, ValueError):
                raise ValidationError({"authority": "Authority is a number from 0 to 1."}) from None
            if not 0.0 <= self.authority <= 1.0:
                raise ValidationError({"authority": f"Authority is a number from 0 to 1, not {self.authority}."})
        self.tags = clean_tags(self.tags)
        if self.published_at is not None:
            if not isinstance(self.published_at, datetime):
                raise ValidationError({"published_at": "Give published_at as a date-time."})
            self.published_at = as_utc(self.published_at, "published_at")
        if len(self.title) > 300:
            raise ValidationError({"title": "A title has at most 300 characters."})
        try:
            self.parsed = self._parse()
        except ParseError as exc:
            raise ValidationError({self.field: str(exc)}) from None
        if not self.parsed.text.strip():
            raise ValidationError({self.field: f"{self.source} has no text to index."})
        if len(self.parsed.text) > settings.RAG_MAX_DOCUMENT_CHARS:
            limit = settings.RAG_MAX_DOCUMENT_CHARS
            raise ValidationError(
                {self.field: f"{self.source} has {len(self.parsed.text):,} characters of text; the limit is {limit:,} (RAG_MAX_DOCUMENT_CHARS)."}
            )
        self.pieces = chunk_text(self.parsed.text, size=settings.RAG_CHUNK_CHARS, overlap=settings.RAG_CHUNK_OVERLAP)
        if len(self.pieces) > settings.RAG_MAX_CHUNKS_PER_DOCUMENT:
            limit = settings.RAG_MAX_CHUNKS_PER_DOCUMENT
            raise ValidationError({self.field: f"{self.source} makes {len(self.pieces):,} chunks; the limit is {limit:,} (RAG_MAX_CHUNKS_PER_DOCUMENT)."})

    def check(self) -> None:
        if self.actor is None:
            # The engine (a RAG step): the circuit was allowed to run; only the tenant scope applies.
            self.validate()
            return
        super().check()

    def execute(self) -> IngestResult:
        self.check()
        try:
            with transaction.atomic():
                return self.perform()
        except IntegrityError:
            # Another request created the same source between our read and our insert.
            raise ValidationError({"source": f"{self.source} is being ingested by another request; try again."}) from None

    def perform(self) -> IngestResult:
        parsed = self.parsed
        digest = content_hash(parsed.text)
        document = Document.objects.for_tenant(self.tenant).select_for_update().filter(source=self.source).first()
        meta = {
            # A source (a URL, a file name) may be longer than a title may be.
            "title": (self.title or parsed.title or self.source)[:300],
            "source_type": self.source_type,
            "tags": self.tags,
            "published_at": self.published_at,
        }
        if self.authority is not None:
            meta["authority"] = self.authority
        if document is not None and document.content_hash == digest:
            new_title = meta["title"] != document.title
            for name, value in meta.items():
                setattr(document, name, value)
            document.save()
            if new_title:
                retitled(document)
            return IngestResult(document, changed=False, chunk_ids=[])
        if document is None:
            document = Document(tenant=self.tenant, source=self.source, created_by=self.actor if getattr(self.actor, "pk", None) else None)
        for name, value in meta.items():
            setattr(document, name, value)
        document.text = parsed.text
        document.content_hash = digest
        document.size_bytes = self.size_bytes or len(parsed.text.encode("utf-8"))
        document.chunk_count = len(self.pieces)
        document.embedded_count = 0
        document.status = DocumentStatus.EMBEDDING if self.pieces else DocumentStatus.READY
        document.error = ""
        document.save()
        # Both writes bump the tenant's corpus version (ChunkQuerySet), inside this transaction.
        Chunk.objects.filter(tenant=self.tenant, document=document).delete()
        chunks = Chunk.objects.bulk_create(
            Chunk(tenant=self.tenant, document=document, ordinal=i, heading=p.heading[:500], text=parsed.text[p.start : p.end], start=p.start, end=p.end)
            for i, p in enumerate(self.pieces)
        )
        ids = [c.pk for c in chunks]
        if ids[:1] == [None]:  # backends that do not return ids from bulk_create
            ids = list(Chunk.objects.filter(document=document).order_by("ordinal").values_list("pk", flat=True))
        tenant_id = self.tenant.pk
        transaction.on_commit(lambda: enqueue_embedding(tenant_id, ids))
        document_id = document.pk
        # robust: the document is saved either way; a failing listener (the graph) is logged.
        transaction.on_commit(lambda: document_ingested.send(sender=Document, tenant_id=tenant_id, document_id=document_id), robust=True)
        return IngestResult(document, changed=True, chunk_ids=ids)


class DeleteDocument(Service):
    perm = Perm.EDIT
    denied_message = "Only editors, admins and owners can delete documents."

    def __init__(self, tenant, actor, document: Document) -> None:
        super().__init__(tenant, actor)
        self.document = document

    def check(self) -> None:
        if self.actor is None:
            self.validate()
            return
        super().check()

    def validate(self) -> None:
        if self.document.tenant_id != self.tenant.pk:
            raise ValidationError("That document belongs to another tenant.")

    def perform(self) -> None:
        # Chunks (and their feedback) go with the document: the FK cascades in the same
        # transaction, and Document.delete bumps the corpus version with it.
        self.document.delete()


class UpdateDocument(Service):
    """Change a document's title, tags, authority or date (its text changes by re-ingesting)."""

    perm = Perm.EDIT
    denied_message = "Only editors, admins and owners can change documents."
    FIELDS = ("title", "tags", "authority", "published_at")

    def __init__(self, tenant, actor, document: Document, changes: dict) -> None:
        super().__init__(tenant, actor)
        self.document = document
        self.changes = dict(changes)

    def validate(self) -> None:
        if self.document.tenant_id != self.tenant.pk:
            raise ValidationError("That document belongs to another tenant.")
        if "tags" in self.changes:
            self.changes["tags"] = clean_tags(self.changes["tags"])
        if "title" in self.changes:
            title = (self.changes["title"] or "").strip()
            if not title or len(title) > 300:
                raise ValidationError({"title": "A title has 1 to 300 characters."})
            self.changes["title"] = title
        if "authority" in self.changes:
            value = self.changes["authority"]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValidationError({"authority": "Authority is a number from 0 to 1."})

    def perform(self) -> Document:
        new_title = "title" in self.changes and self.changes["title"] != self.document.title
        for name, value in self.changes.items():
            setattr(self.document, name, value)
        self.document.save(update_fields=[*self.changes, "updated_at"])
        if new_title:
            retitled(self.document)
        return self.document


class RecordFeedback(Service):
    """A thumbs up (+1) or down (−1) on a chunk returned for a query; any member may give it,
    once per chunk: voting again changes the member's vote (`created` is False then)."""

    perm = Perm.VIEW
    denied_message = "Only members of this tenant can give feedback."

    def __init__(self, tenant, actor, *, chunk_id: Any, value: Any, query: str = "") -> None:
        super().__init__(tenant, actor)
        self.chunk_id = chunk_id
        self.value = value
        # The query is context for the vote: a NUL (PostgreSQL stores none) is dropped, not a reason to lose it.
        self.query = str(query or "").replace("\x00", "").strip()
        self.chunk: Chunk | None = None
        self.created = False

    def check(self) -> None:
        if self.actor is None:
            self.validate()
            return
        super().check()

    def validate(self) -> None:
        value = {"up": 1, "down": -1, "+1": 1, "-1": -1}.get(self.value, self.value) if isinstance(self.value, str) else self.value
        if isinstance(value, bool) or value not in (1, -1):
            raise ValidationError({"value": "Feedback is up (1) or down (-1)."})
        self.value = value
        if isinstance(self.chunk_id, bool) or not isinstance(self.chunk_id, int):
            raise ValidationError({"chunk_id": "Give the id of a passage from the results."})
        # Scoped to the tenant: another tenant's chunk id is "not found", like a missing one.
        self.chunk = Chunk.objects.for_tenant(self.tenant).filter(pk=self.chunk_id).first()
        if self.chunk is None:
            raise ValidationError({"chunk_id": f"No passage {self.chunk_id} in this tenant."})
        if len(self.query) > 1000:
            raise ValidationError({"query": "A query has at most 1000 characters."})

    def perform(self) -> Feedback:
        user = self.actor if getattr(self.actor, "pk", None) else None
        if user is None:  # a step's vote
            self.created = True
            return Feedback.objects.create(tenant=self.tenant, chunk=self.chunk, value=self.value, query=self.query, user=None)
        # A member's second vote on the passage replaces the first (see the model's constraint).
        feedback, self.created = Feedback.objects.update_or_create(
            tenant=self.tenant, chunk=self.chunk, user=user, defaults={"value": self.value, "query": self.query}
        )
        return feedback
