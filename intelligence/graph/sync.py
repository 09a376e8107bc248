"""Building the graph from what the tenant already has: records and documents.

Records (after each committed write, `record_changed`):
  account  → a company (its fields as attributes) and, from `industry`, an industry it is in;
  contact  → a person who works_at the account's company;
  a record with a `product` field and an `opportunity_id` or `account_id` (an opportunity's
  product line, e.g. a custom type "opportunity_product") → the account's company uses the product.
Relations synced from a record carry its id as evidence and go when the record goes.

Documents (after each ingestion that changed the text, `document_ingested`): the matcher
finds known entities; two found in one sentence are related — by a typed relation when a
cue word between them says which (and the declared kinds fit), else as `mentions`. The
sentence and the rule are the evidence; re-ingesting or deleting the document rebuilds it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from circuits.records.models import Record
from intelligence.graph.matcher import Match, Matcher
from intelligence.graph.models import Entity, Origin, Relation
from intelligence.graph.services import UpsertEntity, UpsertRelation, canonical, clean_value
from intelligence.graph.types import BUILTIN_RELATIONS

logger = logging.getLogger(__name__)

MAX_NAME = 200  # as Entity.name
_ACCOUNT_ATTRIBUTES = ("industry", "website", "employees", "annual_revenue", "tier", "region", "country", "technology")


# -- records ---------------------------------------------------------------------------------


def _name(value: object) -> str:
    """A record's text as an entity's name: records hold what people typed, so an overlong
    name is clipped to what an entity holds rather than keeping the record out of the graph."""
    return str(value or "").strip()[:MAX_NAME].strip() if isinstance(value, str | int | float) else ""


def _attributes(data: dict, keys: tuple[str, ...]) -> dict:
    """The record's fields an entity keeps as attributes, without values it cannot hold."""
    out = {}
    for k in keys:
        try:
            out[k] = clean_value(k, data[k]) if data.get(k) not in (None, "") else None
        except ValidationError:
            logger.info("graph sync: %s of a record is not an attribute an entity holds; left out", k)
    return {k: v for k, v in out.items() if v not in (None, "", [])}


def _company_for_account(tenant, account_id) -> Entity | None:
    if not isinstance(account_id, int):
        return None
    entity = Entity.objects.for_tenant(tenant).filter(kind="company", record_id=account_id).first()
    if entity is None:
        record = Record.objects.for_tenant(tenant).filter(pk=account_id, object_type="account").first()
        if record is not None:
            entity = sync_account(tenant, record)
    return entity


def _drop_record_relations(tenant, record_id: int, keep: set[int] = frozenset()) -> None:
    Relation.objects.for_tenant(tenant).filter(origin=Origin.RECORD, evidence__record=record_id).exclude(pk__in=keep).delete()


def sync_account(tenant, record: Record) -> Entity | None:
    data = record.data
    name = _name(data.get("name"))
    if not name:
        return None
    attributes = _attributes(data, _ACCOUNT_ATTRIBUTES)
    linked = Entity.objects.for_tenant(tenant).filter(kind="company", record=record).first()
    try:
        company, _ = UpsertEntity(tenant, None, kind="company", name=name, attributes=attributes, record=record, origin=Origin.RECORD, entity=linked).execute()
    except ValidationError:  # renamed to the name of another company: link that one instead
        company, _ = UpsertEntity(tenant, None, kind="company", name=name, attributes=attributes, record=record, origin=Origin.RECORD).execute()
    keep: set[int] = set()
    if _name(attributes.get("industry")):
        industry, _ = UpsertEntity(tenant, None, kind="industry", name=_name(attributes["industry"]), origin=Origin.RECORD).execute()
        relation, _ = UpsertRelation(
            tenant, None, source=company, target=industry, type="in_industry", origin=Origin.RECORD, evidence={"record": record.pk, "field": "industry"}
        ).execute()  # fmt: skip
        keep.add(relation.pk)
    _drop_record_relations(tenant, record.pk, keep)  # e.g. the industry it is no longer in
    return company


def sync_contact(tenant, record: Record) -> Entity | None:
    data = record.data
    name = _name(" ".join(_name(data.get(k)) for k in ("first_name", "last_name")))
    if not name:
        return None
    attributes = _attributes(data, ("email", "title", "phone"))
    linked = Entity.objects.for_tenant(tenant).filter(kind="person", record=record).first()
    try:
        person, _ = UpsertEntity(tenant, None, kind="person", name=name, attributes=attributes, record=record, origin=Origin.RECORD, entity=linked).execute()
    except ValidationError:
        person, _ = UpsertEntity(tenant, None, kind="person", name=name, attributes=attributes, record=record, origin=Origin.RECORD).execute()
    keep: set[int] = set()
    company = _company_for_account(tenant, data.get("account_id"))
    if company is not None:
        relation, _ = UpsertRelation(
            tenant, None, source=person, target=company, type="works_at", origin=Origin.RECORD, evidence={"record": record.pk, "field": "account_id"}
        ).execute()  # fmt: skip
        keep.add(relation.pk)
    _drop_record_relations(tenant, record.pk, keep)
    return person


def sync_product_line(tenant, record: Record) -> Relation | None:
    data = record.data
    product_name = _name(data.get("product"))
    account_id = data.get("account_id")
    if not isinstance(account_id, int) and isinstance(data.get("opportunity_id"), int):
        opportunity = Record.objects.for_tenant(tenant).filter(pk=data["opportunity_id"], object_type="opportunity").first()
        account_id = opportunity.data.get("account_id") if opportunity else None
    company = _company_for_account(tenant, account_id)
    relation = None
    if product_name and company is not None:
        product, _ = UpsertEntity(tenant, None, kind="product", name=product_name, origin=Origin.RECORD).execute()
        relation, _ = UpsertRelation(
            tenant, None, source=company, target=product, type="uses", origin=Origin.RECORD, evidence={"record": record.pk, "field": "product"}
        ).execute()  # fmt: skip
    _drop_record_relations(tenant, record.pk, {relation.pk} if relation else set())
    return relation


def is_product_line(data: dict) -> bool:
    return "product" in data and ("opportunity_id" in data or "account_id" in data)


def sync_record(tenant, record_id: int, object_type: str, operation: str, new: dict | None) -> None:
    """Bring the graph in line with one record's write (the receiver of `record_changed`)."""
    with transaction.atomic():
        if operation == "deleted":
            _drop_record_relations(tenant, record_id)
            return
        record = Record.objects.for_tenant(tenant).filter(pk=record_id).first()
        if record is None:
            return
        if object_type == "account":
            sync_account(tenant, record)
        elif object_type == "contact":
            sync_contact(tenant, record)
        elif is_product_line(record.data):
            sync_product_line(tenant, record)


def sync_all_records(tenant) -> tuple[int, list[str]]:
    """(Re)build everything records say, accounts first: how many records were read, and why
    each one that could not be synced was not (the others are synced all the same)."""
    count, skipped = 0, []

    def one(record: Record) -> None:
        nonlocal count
        count += 1
        try:
            sync_record(tenant, record.pk, record.object_type, "updated", record.data)
        except ValidationError as exc:
            skipped.append(f"{record.object_type} {record.pk}: {' '.join(exc.messages)}")

    for object_type in ("account", "contact"):
        for record in Record.objects.for_tenant(tenant).filter(object_type=object_type).order_by("pk"):
            one(record)
    for record in Record.objects.for_tenant(tenant).exclude(object_type__in=("account", "contact", "lead")).order_by("pk"):
        if is_product_line(record.data):
            one(record)
    return count, skipped


# -- documents -------------------------------------------------------------------------------

# Cue words between two entities named in one sentence, and the relation they state.
CUES: tuple[tuple[str, re.Pattern], ...] = (
    ("competes_with", re.compile(r"\b(compet\w*|rival\w*|versus|vs\.?|alternative\s+to|challenger)\b", re.I)),
    ("partner_of", re.compile(r"\b(partner\w*|alliance|teamed\s+up)\b", re.I)),
    ("invested_in", re.compile(r"\b(invest\w*|funded|backed|led\s+the\s+round)\b", re.I)),
    ("supplies", re.compile(r"\b(suppl\w*|vendor\s+to|provides?\s+\w+\s+to)\b", re.I)),
    ("uses", re.compile(r"\b(uses|using|use|runs\s+on|built\s+on|adopt\w*|deploy\w*|switched\s+to|migrated\s+to)\b", re.I)),
    ("makes", re.compile(r"\b(makes|maker\s+of|launch\w*|develop\w*|ships?)\b", re.I)),
)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.M)
MAX_PAIRS_PER_DOCUMENT = 500
MAX_GAP = 300  # characters between two names for one to be said of the other
MAX_EVIDENCE = 400  # characters of a sentence kept as evidence


@dataclass(frozen=True)
class Found:
    source: Match
    target: Match
    type: str
    rule: str
    sentence: str
    confidence: float


def _fits(type_slug: str, source: Match, target: Match) -> bool:
    definition = BUILTIN_RELATIONS[type_slug]
    return (definition.source_kinds is None or source.kind in definition.source_kinds) and (
        definition.target_kinds is None or target.kind in definition.target_kinds
    )


def _excerpt(sentence: str, a: Match, b: Match) -> str:
    """The sentence as evidence; of a long one, the stretch around the two names."""
    if len(sentence.strip()) <= MAX_EVIDENCE:
        return sentence.strip()
    start, end = max(0, a.start - 80), min(len(sentence), b.end + 80)
    return ("…" if start else "") + sentence[start:end].strip() + ("…" if end < len(sentence) else "")


def extract(text: str, matcher: Matcher) -> list[Found]:
    """The relations a text states between known entities, each with its sentence and rule.
    Two names more than MAX_GAP characters apart are not taken as related (a "sentence" of a
    document without full stops can be the whole document), which also keeps it linear."""
    found: list[Found] = []
    for sentence in _SENTENCE.finditer(text):
        words = sentence.group(0)
        matches = matcher.find(words)
        for i, a in enumerate(matches):
            for b in matches[i + 1 :]:
                if b.start - a.end > MAX_GAP:
                    break  # matches come in order: the rest are further still
                if a.entity_id == b.entity_id:
                    continue
                between = words[a.end : b.start]
                said = _excerpt(words, a, b)
                relation = None
                for type_slug, cue in CUES:
                    hit = cue.search(between)
                    if hit and _fits(type_slug, a, b):
                        relation = Found(a, b, type_slug, f"{a.text!r} … {hit.group(0)!r} … {b.text!r} in one sentence", said, 0.7)
                        break
                found.append(relation or Found(a, b, "mentions", f"{a.text!r} and {b.text!r} are named in one sentence", said, 0.3))
                if len(found) >= MAX_PAIRS_PER_DOCUMENT:
                    return found
    return found


def forget_document(tenant, document_id: int) -> None:
    """Take a document's support away from the relations it supported; delete the unsupported."""
    supported = Relation.objects.for_tenant(tenant).filter(origin=Origin.DOCUMENT)
    if connection.vendor == "postgresql":  # only the relations it supports, not every one documents made (jsonb containment)
        supported = supported.filter(evidence__documents__contains=[document_id])
    for relation in supported:
        documents = [d for d in relation.evidence.get("documents", []) if d != document_id]
        if len(documents) == len(relation.evidence.get("documents", [])):
            continue
        if documents:
            relation.evidence = {**relation.evidence, "documents": documents}
            relation.save(update_fields=["evidence", "updated_at"])
        else:
            relation.delete()


def sync_document(tenant, document) -> list[Relation]:
    """Rebuild what one document says (the receiver of `document_ingested`)."""
    with transaction.atomic():
        forget_document(tenant, document.pk)
        matcher = Matcher.for_tenant(tenant)
        entities = {e.pk: e for e in Entity.objects.for_tenant(tenant).filter(kind__in=("company", "product", "technology", "market", "industry"))}
        relations: dict[int, Relation] = {}
        for f in extract(document.text, matcher):
            source, target = entities[f.source.entity_id], entities[f.target.entity_id]
            # Exactly this relation as it is stored: a directed one the other way round is another relation.
            stored_source, stored_target = canonical(BUILTIN_RELATIONS[f.type], source, target)
            existing = Relation.objects.for_tenant(tenant).filter(source=stored_source, target=stored_target, type=f.type).first()
            previous = existing.evidence.get("documents", []) if existing else []
            evidence = {"documents": sorted({*previous, document.pk}), "document_title": document.title, "sentence": f.sentence, "rule": f.rule}
            relation, _ = UpsertRelation(
                tenant, None, source=source, target=target, type=f.type, origin=Origin.DOCUMENT, confidence=f.confidence, evidence=evidence
            ).execute()  # fmt: skip
            relations[relation.pk] = relation
        return list(relations.values())
