"""Editing the graph: one service per mutation, called alike by the API, the pages, the
steps (actor None: the engine — the circuit was allowed to run) and the record/document sync."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service
from intelligence.graph.models import Entity, EntityKind, Origin, Relation, RelationType, Suggestion, SuggestionStatus
from intelligence.graph.types import BUILTIN_KINDS, BUILTIN_RELATIONS, RelationDef, get_kind, get_relation_type, normalize, validate_slug

MAX_ALIASES = 50
MAX_ATTRIBUTES = 50
# A hand-entered relation outranks what sync and inference say about the same pair.
_RANK = {Origin.MANUAL: 3, Origin.RECORD: 2, Origin.DOCUMENT: 1, Origin.INFERENCE: 1}


class _GraphService(Service):
    perm = Perm.EDIT
    denied_message = "Only editors, admins and owners can change the knowledge graph."

    def check(self) -> None:
        if self.actor is None:  # the engine or the sync: only the tenant scope applies
            self.validate()
            return
        super().check()

    def _ours(self, obj: Any, what: str) -> None:
        if obj is None or obj.tenant_id != self.tenant.pk:
            raise ValidationError({what: f"No such {what} in this tenant."})

    def execute(self) -> Any:
        self.check()
        try:
            with transaction.atomic():
                return self.perform()
        except IntegrityError:
            raise ValidationError("The graph changed while saving (another request wrote the same entity or relation); try again.") from None


def canonical(definition: RelationDef, source: Entity, target: Entity) -> tuple[Entity, Entity]:
    """Symmetric relations are stored once, smaller id first."""
    if definition.symmetric and source.pk > target.pk:
        return target, source
    return source, target


MAX_VALUE = 1000  # characters of an attribute's text (a list: of each item)
MAX_KEY = 100


def _text(value: str, field: str) -> str:
    if "\x00" in value:  # PostgreSQL stores no NUL in text or JSON
        raise ValidationError({field: f"{value[:40]!r} holds a NUL character."})
    return value


def _clean_aliases(aliases: Any, name: str) -> list[str]:
    if aliases in (None, ""):
        return []
    if isinstance(aliases, str):
        aliases = aliases.split(",")
    if not isinstance(aliases, list | tuple) or not all(isinstance(a, str) for a in aliases):
        raise ValidationError({"aliases": "Give aliases as a list of names."})
    seen, out = {normalize(name)}, []
    for alias in (_text(a, "aliases").strip() for a in aliases):
        if alias and normalize(alias) and normalize(alias) not in seen and len(alias) <= 200:
            seen.add(normalize(alias))
            out.append(alias)
    if len(out) > MAX_ALIASES:
        raise ValidationError({"aliases": f"At most {MAX_ALIASES} aliases."})
    return out


def clean_value(name: str, value: Any) -> Any:
    """An attribute's value: text (at most MAX_VALUE characters), a finite number, a boolean or
    a list of those (at most MAX_ALIASES) — inference loads every entity's attributes at once."""
    if isinstance(value, list):
        if len(value) > MAX_ALIASES:
            raise ValidationError({"attributes": f"{name}: a list has at most {MAX_ALIASES} items."})
        if any(isinstance(v, list | dict) for v in value):
            raise ValidationError({"attributes": f"{name}: a list holds text, numbers or booleans, not lists or objects."})
        return [clean_value(name, v) for v in value]
    if isinstance(value, str):
        if len(value) > MAX_VALUE:
            raise ValidationError({"attributes": f"{name}: a text has at most {MAX_VALUE} characters."})
        return _text(value, "attributes")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError({"attributes": f"{name}: a number is finite."})
    if isinstance(value, bool | int | float | type(None)):
        return value
    raise ValidationError({"attributes": f"{name}: a value is text, a number, a boolean or a list."})


def _clean_attributes(attributes: Any) -> dict:
    if attributes in (None, ""):
        return {}
    if not isinstance(attributes, dict):
        raise ValidationError({"attributes": "Attributes are an object of names to values."})
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValidationError({"attributes": f"At most {MAX_ATTRIBUTES} attributes."})
    out = {}
    for name, value in attributes.items():
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_KEY:
            raise ValidationError({"attributes": f"An attribute's name is text of 1 to {MAX_KEY} characters, not {str(name)[:40]!r}."})
        out[_text(name, "attributes")] = clean_value(name, value)
    return {k: v for k, v in out.items() if v not in (None, "", [])}


class UpsertEntity(_GraphService):
    """Create the entity (kind, name) or update the one with that normalised name — or, given
    `entity`, edit that one. Aliases are added to (or, with replace=True, replace) the known
    ones; attributes are merged (replace=True: replaced)."""

    def __init__(self, tenant, actor, *, kind: str = "", name: str = "", aliases: Any = None, attributes: Any = None, record=None,
                 origin: str = Origin.MANUAL, entity: Entity | None = None, replace: bool = False) -> None:  # fmt: skip
        super().__init__(tenant, actor)
        self.kind, self.name = (kind or (entity.kind if entity else "")), (name or (entity.name if entity else "")).strip()
        self.aliases, self.attributes, self.record, self.origin, self.entity, self.replace = aliases, attributes, record, origin, entity, replace

    def validate(self) -> None:
        if self.entity is not None:
            self._ours(self.entity, "entity")
            if self.kind != self.entity.kind:  # its relations were checked against its kind
                raise ValidationError({"kind": f"An entity's kind does not change ({self.entity.name} is a {self.entity.kind}); add a new entity instead."})
        validate_slug(self.kind, "kind")
        get_kind(self.tenant, self.kind)
        if not self.name or not normalize(self.name):
            raise ValidationError({"name": "An entity needs a name with letters or digits."})
        _text(self.name, "name")
        if len(self.name) > 200:
            raise ValidationError({"name": "A name has at most 200 characters."})
        self.clean_aliases = _clean_aliases(self.aliases, self.name)
        self.clean_attributes = _clean_attributes(self.attributes)
        if self.record is not None and self.record.tenant_id != self.tenant.pk:
            raise ValidationError({"record": "That record belongs to another tenant."})
        key = normalize(self.name)
        same_kind = Entity.objects.for_tenant(self.tenant).filter(kind=self.kind)
        if self.entity is not None and same_kind.filter(key=key).exclude(pk=self.entity.pk).exists():
            raise ValidationError({"name": f"Another {self.kind} is already called {self.name!r}."})
        # An alias that is another entity's name would take that entity's mentions in documents
        # and make its name ambiguous.
        itself = self.entity.pk if self.entity is not None else same_kind.filter(key=key).values_list("pk", flat=True).first()
        aliases = {normalize(a): a for a in self.clean_aliases}
        taken = same_kind.filter(key__in=list(aliases)).exclude(pk=itself).order_by("pk").first()
        if taken is not None:
            raise ValidationError({"aliases": f"{aliases[taken.key]!r} is the name of another {self.kind} (#{taken.pk}); an alias names this entity only."})

    def perform(self) -> tuple[Entity, bool]:
        key = normalize(self.name)
        entity = self.entity or Entity.objects.for_tenant(self.tenant).select_for_update().filter(kind=self.kind, key=key).first()
        created = entity is None
        if created:
            entity = Entity(tenant=self.tenant, kind=self.kind, origin=self.origin)
        elif self.entity is None and self.name != entity.name and not self.replace:
            # Found by its normalised name under another spelling: remember the spelling.
            self.clean_aliases = [*self.clean_aliases, self.name]
            self.name = entity.name
        entity.name, entity.key = self.name, normalize(self.name)
        aliases = self.clean_aliases if self.replace else [*entity.aliases, *self.clean_aliases]
        entity.aliases = _clean_aliases(aliases, entity.name)
        entity.attributes = self.clean_attributes if self.replace else {**entity.attributes, **self.clean_attributes}
        if self.record is not None:
            entity.record = self.record
        if _RANK.get(self.origin, 0) > _RANK.get(entity.origin, 0):
            entity.origin = self.origin
        entity.save()
        return entity, created


class DeleteEntity(_GraphService):
    """Delete an entity with its relations and suggestions."""

    def __init__(self, tenant, actor, entity: Entity) -> None:
        super().__init__(tenant, actor)
        self.entity = entity

    def validate(self) -> None:
        self._ours(self.entity, "entity")

    def perform(self) -> None:
        self.entity.delete()


def _date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({field: f"{value!r} is not a date (YYYY-MM-DD)."}) from None


class UpsertRelation(_GraphService):
    """Create `source —type→ target` or update it. A hand-entered relation is never
    downgraded by sync or inference: they only raise its confidence."""

    def __init__(self, tenant, actor, *, source: Entity, target: Entity, type: str, origin: str = Origin.MANUAL, confidence: Any = 1.0,
                 valid_from: Any = None, valid_to: Any = None, evidence: dict | None = None) -> None:  # fmt: skip
        super().__init__(tenant, actor)
        self.source, self.target, self.type, self.origin = source, target, type, origin
        self.confidence, self.valid_from, self.valid_to, self.evidence = confidence, valid_from, valid_to, evidence or {}

    def validate(self) -> None:
        self._ours(self.source, "source")
        self._ours(self.target, "target")
        validate_slug(self.type, "type")
        self.definition = definition = get_relation_type(self.tenant, self.type)
        if self.source.pk == self.target.pk:
            raise ValidationError({"target": "A relation joins two different entities."})
        for end, entity, allowed in (("source", self.source, definition.source_kinds), ("target", self.target, definition.target_kinds)):
            if allowed is not None and entity.kind not in allowed:
                raise ValidationError({end: f"{self.type} needs a {' or '.join(sorted(allowed))} as its {end}, not the {entity.kind} {entity.name!r}."})
        try:
            self.confidence = float(self.confidence)
        except (TypeError, ValueError):
            raise ValidationError({"confidence": "Confidence is a number from 0 to 1."}) from None
        if not 0.0 <= self.confidence <= 1.0:
            raise ValidationError({"confidence": f"Confidence is a number from 0 to 1, not {self.confidence}."})
        self.valid_from, self.valid_to = _date(self.valid_from, "valid_from"), _date(self.valid_to, "valid_to")
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValidationError({"valid_to": "valid_to is before valid_from."})
        if self.origin not in Origin.values:
            raise ValidationError({"origin": f"origin is one of {', '.join(Origin.values)}."})

    def perform(self) -> tuple[Relation, bool]:
        source, target = canonical(self.definition, self.source, self.target)
        relation = Relation.objects.for_tenant(self.tenant).select_for_update().filter(source=source, target=target, type=self.type).first()
        created = relation is None
        if created:
            relation = Relation(tenant=self.tenant, source=source, target=target, type=self.type, origin=self.origin, confidence=self.confidence)
        elif _RANK.get(self.origin, 0) >= _RANK.get(relation.origin, 0):
            relation.origin, relation.confidence = self.origin, self.confidence
        else:
            relation.confidence = max(relation.confidence, self.confidence)
        if self.valid_from is not None:
            relation.valid_from = self.valid_from
        if self.valid_to is not None:
            relation.valid_to = self.valid_to
        if self.evidence:
            relation.evidence = {**relation.evidence, **self.evidence}
        relation.save()
        # A suggestion of what now is a relation is no longer a question.
        Suggestion.objects.for_tenant(self.tenant).filter(source=source, target=target, type=self.type, status=SuggestionStatus.PENDING).delete()
        return relation, created


class DeleteRelation(_GraphService):
    def __init__(self, tenant, actor, relation: Relation) -> None:
        super().__init__(tenant, actor)
        self.relation = relation

    def validate(self) -> None:
        self._ours(self.relation, "relation")

    def perform(self) -> None:
        self.relation.delete()


class DecideSuggestion(_GraphService):
    """Accept (the suggestion becomes a relation of origin "inference") or reject it (it is
    kept as rejected, so inference never proposes that pair and type again)."""

    def __init__(self, tenant, actor, suggestion: Suggestion, accept: bool) -> None:
        super().__init__(tenant, actor)
        self.suggestion, self.accept = suggestion, accept

    def validate(self) -> None:
        self._ours(self.suggestion, "suggestion")
        if self.suggestion.status != SuggestionStatus.PENDING:
            raise ValidationError({"suggestion": f"This suggestion was already {self.suggestion.status}."})

    def perform(self) -> Relation | None:
        s = Suggestion.objects.select_for_update().get(pk=self.suggestion.pk)
        if s.status != SuggestionStatus.PENDING:
            raise ValidationError({"suggestion": f"This suggestion was already {s.status}."})
        s.status = SuggestionStatus.ACCEPTED if self.accept else SuggestionStatus.REJECTED
        s.decided_by = self.actor if getattr(self.actor, "pk", None) else None
        s.decided_at = timezone.now()
        s.save()  # decided first: the relation's upsert clears only pending suggestions
        relation = None
        if self.accept:
            evidence = {"suggestion": s.pk, "method": s.method, "reason": s.reason}
            confidence = min(1.0, max(0.0, s.score))
            relation, _ = UpsertRelation(
                self.tenant, self.actor, source=s.source, target=s.target, type=s.type, origin=Origin.INFERENCE, confidence=confidence, evidence=evidence
            ).execute()  # fmt: skip
        self.suggestion.refresh_from_db()
        return relation


class DefineEntityKind(_GraphService):
    perm = Perm.MANAGE_SETTINGS
    denied_message = "Only admins and owners can define kinds of entity."

    def __init__(self, tenant, actor, slug: str, label: str = "") -> None:
        super().__init__(tenant, actor)
        self.slug, self.label = slug, (label or "").strip()

    def validate(self) -> None:
        validate_slug(self.slug, "slug")
        if self.slug in BUILTIN_KINDS:
            raise ValidationError({"slug": f"{self.slug!r} is a built-in kind."})

    def perform(self) -> EntityKind:
        row, _ = EntityKind.objects.update_or_create(tenant=self.tenant, slug=self.slug, defaults={"label": self.label or self.slug.replace("_", " ")})
        return row


class DefineRelationType(_GraphService):
    perm = Perm.MANAGE_SETTINGS
    denied_message = "Only admins and owners can define types of relation."

    def __init__(self, tenant, actor, slug: str, label: str = "", symmetric: bool = False, transitive: bool = False) -> None:
        super().__init__(tenant, actor)
        self.slug, self.label, self.symmetric, self.transitive = slug, (label or "").strip(), bool(symmetric), bool(transitive)

    def validate(self) -> None:
        validate_slug(self.slug, "slug")
        if self.slug in BUILTIN_RELATIONS:
            raise ValidationError({"slug": f"{self.slug!r} is a built-in relation type."})
        row = RelationType.objects.for_tenant(self.tenant).filter(slug=self.slug).first()
        if row is not None and row.symmetric != self.symmetric and Relation.objects.for_tenant(self.tenant).filter(type=self.slug).exists():
            raise ValidationError({"symmetric": "Relations of this type exist; their stored direction depends on symmetry."})

    def perform(self) -> RelationType:
        row, _ = RelationType.objects.update_or_create(
            tenant=self.tenant, slug=self.slug,
            defaults={"label": self.label or self.slug.replace("_", " "), "symmetric": self.symmetric, "transitive": self.transitive},
        )  # fmt: skip
        return row
