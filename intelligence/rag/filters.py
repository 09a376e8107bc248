"""What a search may be restricted to (tags, source types, documents, dates, authority), and
parsing that from the API, a page or a step's config — with an error naming the bad filter.

Below the search and the router: a route carries its own filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from intelligence.rag.models import Document, SourceType


@dataclass
class Filters:
    """Restrict a search to some documents. Empty lists and None mean no restriction."""

    tags: list[str] = field(default_factory=list)  # the document has every one
    source_types: list[str] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)
    published_after: datetime | None = None
    published_before: datetime | None = None
    min_authority: float | None = None

    def is_empty(self) -> bool:
        return not (self.tags or self.source_types or self.documents or self.published_after or self.published_before or self.min_authority is not None)

    def describe(self) -> dict:
        out: dict[str, Any] = {}
        for name in ("tags", "source_types", "documents"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("published_after", "published_before"):
            if getattr(self, name):
                out[name] = getattr(self, name).isoformat()
        if self.min_authority is not None:
            out["min_authority"] = self.min_authority
        return out

    def queryset(self, tenant):
        documents = Document.objects.for_tenant(tenant)
        if self.source_types:
            documents = documents.filter(source_type__in=self.source_types)
        if self.documents:
            documents = documents.filter(pk__in=self.documents)
        if self.published_after:
            documents = documents.filter(published_at__gte=self.published_after)
        if self.published_before:
            documents = documents.filter(published_at__lt=self.published_before)
        if self.min_authority is not None:
            documents = documents.filter(authority__gte=self.min_authority)
        if self.tags and connection.vendor == "postgresql":
            documents = documents.filter(tags__contains=self.tags)
        return documents

    def allowed_documents(self, tenant) -> set[int]:
        rows = self.queryset(tenant).values_list("id", "tags")
        if self.tags and connection.vendor != "postgresql":  # SQLite has no JSON containment
            wanted = set(self.tags)
            return {pk for pk, tags in rows if wanted <= set(tags or [])}
        return {pk for pk, _ in rows}


def _string_list(value: Any, name: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({f"filters.{name}": "Give a list of strings."})
    return [v.strip().lower() for v in value if v.strip()]


def _when(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = value if isinstance(value, datetime) else parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({f"filters.{name}": "Give an ISO 8601 date or date-time, e.g. 2025-01-31."})
    return as_utc(parsed, f"filters.{name}")


def as_utc(when: datetime, name: str) -> datetime:
    """`when` in UTC (naive means UTC). PostgreSQL refuses offsets past ±15:59, which Python
    parses ('-23:59'), and a date at the edge of the calendar may not exist in UTC."""
    try:
        return when.astimezone(UTC) if timezone.is_aware(when) else timezone.make_aware(when, UTC)
    except (OverflowError, ValueError):
        raise ValidationError({name: f"{when.isoformat()} is outside the dates that can be stored."}) from None


def parse_filters(raw: Any) -> Filters:
    if raw in (None, {}):
        return Filters()
    if not isinstance(raw, dict):
        raise ValidationError({"filters": "Give filters as an object."})
    known = {"tags", "source_types", "documents", "published_after", "published_before", "min_authority"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValidationError({"filters": f"Unknown filter {unknown[0]!r}; use {', '.join(sorted(known))}."})
    source_types = _string_list(raw.get("source_types"), "source_types")
    bad = [s for s in source_types if s not in SourceType.values]
    if bad:
        raise ValidationError({"filters.source_types": f"Unknown source type {bad[0]!r}; use {', '.join(SourceType.values)}."})
    documents = raw.get("documents") or []
    if not isinstance(documents, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in documents):
        raise ValidationError({"filters.documents": "Give a list of document ids."})
    authority = raw.get("min_authority")
    if authority is not None and (isinstance(authority, bool) or not isinstance(authority, int | float) or not 0 <= authority <= 1):
        raise ValidationError({"filters.min_authority": "A number from 0 to 1."})
    return Filters(
        tags=_string_list(raw.get("tags"), "tags"),
        source_types=source_types,
        documents=documents,
        published_after=_when(raw.get("published_after"), "published_after"),
        published_before=_when(raw.get("published_before"), "published_before"),
        min_authority=float(authority) if authority is not None else None,
    )
