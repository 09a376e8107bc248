"""The demo tenant's small knowledge graph: Acme's market, the competitors the demo's news
feed and site talk about (Globex, Initech), and enough around them for Query Competitors and
Infer Relationships to have something to say. Idempotent: loading again changes nothing."""

from __future__ import annotations

from django.db import transaction

from intelligence.graph.models import Origin
from intelligence.graph.services import UpsertEntity, UpsertRelation

ENTITIES = [
    ("company", "Acme Corporation", ["Acme"], {"region": "DACH", "industry": "B2B software"}),
    ("company", "Globex", ["Globex Corporation"], {"region": "DACH", "industry": "B2B software"}),
    ("company", "Initech", [], {"region": "Benelux", "industry": "B2B software"}),
    ("company", "Hooli", [], {"region": "DACH", "industry": "B2B software"}),
    ("company", "Umbrella Analytics", [], {"region": "Nordics", "industry": "B2B software"}),
    ("company", "Soylent Data", [], {"region": "Benelux", "industry": "B2B software"}),
    ("market", "Sales automation", [], {}),
    ("market", "CRM for small teams", [], {}),
    ("industry", "B2B software", [], {}),
    ("technology", "Large language models", ["LLM", "LLMs"], {}),
    ("technology", "PostgreSQL", ["Postgres"], {}),
    ("product", "Acme Flow", [], {}),
    ("product", "Globex Assist", [], {}),
]
RELATIONS = [
    ("Acme Corporation", "competes_with", "Globex", 1.0),
    ("Globex", "competes_with", "Hooli", 0.8),
    ("Initech", "competes_with", "Soylent Data", 0.8),
    ("Acme Corporation", "in_market", "Sales automation", 1.0),
    ("Globex", "in_market", "Sales automation", 1.0),
    ("Hooli", "in_market", "Sales automation", 1.0),
    ("Umbrella Analytics", "in_market", "Sales automation", 1.0),
    ("Initech", "in_market", "CRM for small teams", 1.0),
    ("Soylent Data", "in_market", "CRM for small teams", 1.0),
    ("Acme Corporation", "in_market", "CRM for small teams", 1.0),
    ("Acme Corporation", "uses", "Large language models", 1.0),
    ("Globex", "uses", "Large language models", 1.0),
    ("Umbrella Analytics", "uses", "Large language models", 1.0),
    ("Initech", "uses", "PostgreSQL", 1.0),
    ("Acme Corporation", "uses", "PostgreSQL", 1.0),
    ("Acme Corporation", "makes", "Acme Flow", 1.0),
    ("Globex", "makes", "Globex Assist", 1.0),
    ("Acme Flow", "competes_with", "Globex Assist", 1.0),
]


def load_demo_graph(tenant) -> int:
    """Create (or refresh) the demo graph; returns the number of relations in it."""
    with transaction.atomic():
        entities = {}
        for kind, name, aliases, attributes in ENTITIES:
            entities[name] = UpsertEntity(tenant, None, kind=kind, name=name, aliases=aliases, attributes=attributes, origin=Origin.MANUAL).execute()[0]
        for source, type_, target, confidence in RELATIONS:
            UpsertRelation(tenant, None, source=entities[source], target=entities[target], type=type_, confidence=confidence).execute()
    return len(RELATIONS)
