"""Kinds of entity and types of relation: the built-in ones here, a tenant's own as rows.

A relation type declares which kinds it joins (None: any) and whether it is symmetric or
transitive; the services validate relations against it and inference applies its rules.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from intelligence.graph.models import EntityKind, RelationType

BUILTIN_KINDS: dict[str, str] = {
    "company": "Company",
    "person": "Person",
    "product": "Product",
    "industry": "Industry",
    "technology": "Technology",
    "market": "Market",
    "region": "Region",
}


@dataclass(frozen=True)
class RelationDef:
    slug: str
    label: str
    symmetric: bool = False
    transitive: bool = False
    source_kinds: frozenset[str] | None = None  # None: any kind
    target_kinds: frozenset[str] | None = None
    builtin: bool = True


def _kinds(*names: str) -> frozenset[str]:
    return frozenset(names)


BUILTIN_RELATIONS: dict[str, RelationDef] = {
    r.slug: r
    for r in (
        RelationDef("competes_with", "competes with", symmetric=True, source_kinds=_kinds("company", "product"), target_kinds=_kinds("company", "product")),
        RelationDef("partner_of", "is a partner of", symmetric=True, source_kinds=_kinds("company"), target_kinds=_kinds("company")),
        RelationDef("works_at", "works at", source_kinds=_kinds("person"), target_kinds=_kinds("company")),
        RelationDef("uses", "uses", source_kinds=_kinds("company", "person", "product"), target_kinds=_kinds("product", "technology")),
        RelationDef("invested_in", "invested in", source_kinds=_kinds("company", "person"), target_kinds=_kinds("company")),
        RelationDef("supplies", "supplies", source_kinds=_kinds("company"), target_kinds=_kinds("company")),
        RelationDef("makes", "makes", source_kinds=_kinds("company"), target_kinds=_kinds("product")),
        RelationDef("in_industry", "is in the industry", source_kinds=_kinds("company", "product"), target_kinds=_kinds("industry")),
        RelationDef("in_market", "sells in the market", source_kinds=_kinds("company", "product"), target_kinds=_kinds("market")),
        RelationDef("in_region", "is based in", source_kinds=_kinds("company", "person"), target_kinds=_kinds("region")),
        RelationDef("subsidiary_of", "is a subsidiary of", transitive=True, source_kinds=_kinds("company"), target_kinds=_kinds("company")),
        RelationDef("part_of", "is part of", transitive=True),
        RelationDef("mentions", "is mentioned with", symmetric=True),  # named together: no direction, stored once
    )
}

# The relations through which two companies "share" something that makes them competitors.
SHARED_CONTEXT = {"in_market": "market", "in_industry": "industry", "uses": "technology"}
# The facets inference compares between two entities, from these relations or attributes.
FACET_RELATIONS = {"in_industry": "industry", "in_market": "market", "in_region": "region", "uses": "technology"}
FACETS = ("industry", "market", "region", "technology")

_SLUG = re.compile(r"[a-z][a-z0-9_]{0,49}")


def normalize(name: str) -> str:
    """The key an entity's name is matched by: case-folded, accents and punctuation dropped,
    whitespace collapsed, so "ACME, Inc." and "acme inc" are one company."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())[:200]


def kinds(tenant) -> dict[str, str]:
    out = dict(BUILTIN_KINDS)
    out.update({row.slug: row.label for row in EntityKind.objects.for_tenant(tenant)})
    return out


def relation_types(tenant) -> dict[str, RelationDef]:
    out = dict(BUILTIN_RELATIONS)
    for row in RelationType.objects.for_tenant(tenant):
        if row.slug not in out:
            out[row.slug] = RelationDef(row.slug, row.label, symmetric=row.symmetric, transitive=row.transitive, builtin=False)
    return out


def get_kind(tenant, slug: str) -> str:
    known = kinds(tenant)
    if slug not in known:
        raise ValidationError({"kind": f"Unknown entity kind {slug!r}; known kinds: {', '.join(sorted(known))}."})
    return slug


def get_relation_type(tenant, slug: str) -> RelationDef:
    known = relation_types(tenant)
    if slug not in known:
        raise ValidationError({"type": f"Unknown relation type {slug!r}; known types: {', '.join(sorted(known))}."})
    return known[slug]


def validate_slug(slug: object, field: str) -> str:
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):  # fullmatch: `$` would let a trailing newline through
        raise ValidationError({field: "A slug is lower-case letters, digits and underscores, starting with a letter (max 50)."})
    return slug
