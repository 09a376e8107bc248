"""graph.* — the knowledge graph as steps: competitors, neighbours / paths, inferred
relations, and writing entities and relations.

Every step works inside `ctx.tenant` only (entities are resolved through the tenant's scoped
managers), with the engine as the actor: the circuit was allowed to run. Entities are named
by id or by name/alias; outputs carry entities, relations, scores and reasons.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from actions.sdk import Action, ActionError, Context, register
from intelligence.graph.inference import MAX_SUGGESTIONS, infer
from intelligence.graph.models import Entity, Origin
from intelligence.graph.queries import MAX_DEPTH, company_for_record, competitors, entity_dict, neighbours, relation_dict, resolve, shortest_path, subgraph
from intelligence.graph.services import UpsertEntity, UpsertRelation

_REF = {"type": ["string", "integer"], "minLength": 1, "maxLength": 200, "minimum": 1}
_SLUG = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,49}$"}
_TYPES = {"type": "array", "items": _SLUG, "maxItems": 20, "title": "Relation types", "description": "Only these, e.g. competes_with, uses (empty: all)."}
_ENTITY_OUT = {"type": "object", "description": "id, kind, name, aliases, attributes, record_id, origin."}


def _error(exc: ValidationError) -> ActionError:
    if hasattr(exc, "message_dict"):
        return ActionError("; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()))
    return ActionError(" ".join(exc.messages))


def _steps_error(func):
    def run(self, ctx: Context, config: dict) -> Any:
        errors = self.validate_config(config, rendered=True)
        if errors:
            raise ActionError("; ".join(errors))
        try:
            return func(self, ctx, config)
        except ValidationError as exc:
            raise _error(exc) from None

    return run


@register
class QueryCompetitors(Action):
    name = "graph.query_competitors"
    category = "graph"
    label = "Query Competitors"
    description = (
        "Competitors of a company: stated ones, then companies sharing its market, industry or technology — each with a score and the path as its reason."
    )
    side_effects = False
    idempotent = True
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "company": {**_REF, "title": "Company", "description": "A company's name, alias or entity id, e.g. {{ trigger.record.company }}."},
            "account_id": {"type": ["integer", "string"], "title": "Account", "description": "Or the account record's id, e.g. {{ trigger.record.id }}."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10, "title": "At most"},
            "indirect": {"type": "boolean", "default": True, "title": "Indirect", "description": "Also companies sharing a market, industry or technology."},
            "min_score": {"type": "number", "minimum": 0, "maximum": 1, "default": 0, "title": "Minimum score"},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "company": _ENTITY_OUT,
            "competitors": {"type": "array", "description": "Each: the entity's fields, score (0–1), direct, reason, paths."},
            "names": {"type": "array", "description": "The competitors' names, best first."},
            "count": {"type": "integer"},
        },
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        given = [k for k in ("company", "account_id") if config.get(k) not in (None, "")]
        return [] if len(given) == 1 else ["config: give exactly one of company or account_id"]

    @_steps_error
    def run(self, ctx: Context, config: dict) -> dict:
        if config.get("account_id") not in (None, ""):
            company = company_for_record(ctx.tenant, config["account_id"])
        else:
            company = resolve(ctx.tenant, config["company"], field="company")
        found = competitors(ctx.tenant, company, limit=int(config.get("limit", 10)), indirect=bool(config.get("indirect", True)))
        found = [c for c in found if c["score"] >= float(config.get("min_score", 0))]
        ctx.log(f"{len(found)} competitors of {company.name}" + (f", best {found[0]['name']} ({found[0]['score']:.2f}: {found[0]['reason']})" if found else ""))
        return {"company": entity_dict(company), "competitors": found, "names": [c["name"] for c in found], "count": len(found)}


@register
class QueryGraph(Action):
    name = "graph.query"
    category = "graph"
    label = "Query Graph"
    description = "Neighbours of an entity within a depth (optionally by relation type), the shortest path between two entities, or the subgraph around one."
    side_effects = False
    idempotent = True
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["entity"],
        "properties": {
            "mode": {"type": "string", "enum": ["neighbours", "path", "subgraph"], "default": "neighbours", "title": "Mode"},
            "entity": {**_REF, "title": "Entity", "description": "A name, alias or entity id."},
            "kind": {**_SLUG, "title": "Kind", "description": "The entity's kind when its name is ambiguous (company, product, …)."},
            "to": {**_REF, "title": "To", "description": "path: the entity to reach."},
            "depth": {"type": "integer", "minimum": 1, "maximum": MAX_DEPTH, "default": 1, "title": "Depth", "description": f"Hops, 1–{MAX_DEPTH}."},
            "types": _TYPES,
            "direction": {"type": "string", "enum": ["both", "out", "in"], "default": "both", "title": "Direction"},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "entity": _ENTITY_OUT,
            "entities": {"type": "array", "description": "neighbours: each with hops and via (the relation reaching it); path/subgraph: the entities."},
            "relations": {"type": "array", "description": "id, source, target, type, origin, confidence, evidence (and names)."},
            "found": {"type": "boolean", "description": "path: whether the two are connected within the depth."},
            "hops": {"type": "integer"},
        },
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        if config.get("mode") == "path" and config.get("to") in (None, ""):
            return ["to: is required with mode path"]
        if config.get("mode", "neighbours") != "path" and config.get("to") not in (None, ""):
            return ["to: only applies to mode path"]
        return []

    @_steps_error
    def run(self, ctx: Context, config: dict) -> dict:
        tenant, mode = ctx.tenant, config.get("mode", "neighbours")
        entity = resolve(tenant, config["entity"], config.get("kind"), field="entity")
        depth, types = int(config.get("depth", 1 if mode != "path" else MAX_DEPTH)), config.get("types") or None
        if mode == "path":
            target = resolve(tenant, config["to"], field="to")
            path = shortest_path(tenant, entity, target, max_depth=depth, types=types)
            ctx.log(f"{entity.name} → {target.name}: " + (f"{path['hops']} hops" if path else f"not connected within {depth} hops"))
            if path is None:
                return {"entity": entity_dict(entity), "entities": [], "relations": [], "found": False, "hops": 0}
            return {"entity": entity_dict(entity), **path, "found": True}
        if mode == "subgraph":
            graph = subgraph(tenant, entity, depth, types)
            ctx.log(f"{len(graph['entities'])} entities, {len(graph['relations'])} relations around {entity.name}")
            return {"entity": entity_dict(entity), "entities": graph["entities"], "relations": graph["relations"], "found": True, "hops": depth}
        found = neighbours(tenant, entity, depth, types, config.get("direction", "both"))
        ctx.log(f"{len(found)} neighbours of {entity.name} within {depth} hops")
        relations = [n["via"] for n in found if n["via"]]
        return {"entity": entity_dict(entity), "entities": found, "relations": relations, "found": bool(found), "hops": depth}


@register
class InferRelationships(Action):
    name = "graph.infer_relationships"
    category = "graph"
    label = "Infer Relationships"
    description = (
        "Suggest missing relations (link prediction on the tenant's graph plus declared rules), each with a score and a reason; stored for accept/reject."
    )
    side_effects = True  # stores suggestions
    idempotent = True  # the same graph gives the same suggestions (upserted)
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "types": {**_TYPES, "default": ["competes_with"], "description": "The relation types to suggest (default competes_with)."},
            "entity": {**_REF, "title": "Entity", "description": "Only suggestions touching this entity (name, alias or id)."},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_SUGGESTIONS, "default": 10, "title": "At most"},
            "min_score": {"type": "number", "minimum": 0, "maximum": 1, "default": 0, "title": "Minimum score"},
            "save": {"type": "boolean", "default": True, "title": "Store", "description": "Store them as pending suggestions to accept or reject."},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "suggestions": {"type": "array", "description": "Each: id (when stored), source, target (ids and names), type, score, method, reason."},
            "entities": {"type": "array", "description": "The entities the suggestions join."},
            "count": {"type": "integer"},
        },
    }

    @_steps_error
    def run(self, ctx: Context, config: dict) -> dict:
        tenant = ctx.tenant
        entity = resolve(tenant, config["entity"], field="entity") if config.get("entity") not in (None, "") else None
        rows = infer(
            tenant, types=config.get("types") or None, entity=entity, limit=int(config.get("limit", 10)),
            min_score=float(config.get("min_score", 0)), save=bool(config.get("save", True)),
        )  # fmt: skip
        ids = {r.source_id for r in rows} | {r.target_id for r in rows}
        entities = {e.pk: e for e in Entity.objects.for_tenant(tenant).filter(pk__in=ids)}
        suggestions = [
            {"id": r.pk, "source": r.source_id, "source_name": entities[r.source_id].name, "target": r.target_id, "target_name": entities[r.target_id].name,
             "type": r.type, "score": r.score, "method": r.method, "reason": r.reason, "status": r.status}
            for r in rows
        ]  # fmt: skip
        ctx.log(f"{len(suggestions)} suggestions" + (f"; best: {suggestions[0]['reason']}" if suggestions else ""))
        return {"suggestions": suggestions, "entities": [entity_dict(e) for e in entities.values()], "count": len(suggestions)}


@register
class UpsertEntityAction(Action):
    name = "graph.upsert_entity"
    category = "graph"
    label = "Upsert Entity"
    description = "Add a company, person, product, … to the graph, or update the one with that name (aliases added, attributes merged)."
    idempotent = True
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "name"],
        "properties": {
            "kind": {**_SLUG, "title": "Kind", "description": "company, person, product, industry, technology, market, region or a kind of your own."},
            "name": {"type": "string", "minLength": 1, "maxLength": 200, "title": "Name"},
            "aliases": {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 50, "title": "Aliases"},
            "attributes": {"type": "object", "title": "Attributes", "description": 'e.g. {"industry": "Proptech", "region": "DACH"}.'},
        },
    }
    output_schema = {"type": "object", "properties": {"entity": _ENTITY_OUT, "created": {"type": "boolean"}}}

    @_steps_error
    def run(self, ctx: Context, config: dict) -> dict:
        entity, created = UpsertEntity(
            ctx.tenant, None, kind=config["kind"], name=config["name"], aliases=config.get("aliases"), attributes=config.get("attributes"), origin=Origin.MANUAL
        ).execute()  # fmt: skip
        ctx.log(f"{'created' if created else 'updated'} {entity.kind} {entity.name}")
        return {"entity": entity_dict(entity), "created": created}


@register
class UpsertRelationAction(Action):
    name = "graph.upsert_relation"
    category = "graph"
    label = "Upsert Relation"
    description = "Relate two entities (e.g. Acme competes_with Globex), creating missing entities of the given kinds if asked."
    idempotent = True
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["source", "type", "target"],
        "properties": {
            "source": {**_REF, "title": "Source", "description": "A name, alias or entity id."},
            "source_kind": {**_SLUG, "title": "Source kind"},
            "type": {**_SLUG, "title": "Relation", "description": "competes_with, works_at, uses, invested_in, partner_of, supplies, … or a type of your own."},
            "target": {**_REF, "title": "Target", "description": "A name, alias or entity id."},
            "target_kind": {**_SLUG, "title": "Target kind"},
            "create_missing": {"type": "boolean", "default": False, "title": "Create missing", "description": "Create entities not found (needs their kinds)."},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1, "default": 1, "title": "Confidence"},
            "valid_from": {"type": "string", "format": "date", "title": "Valid from"},
            "valid_to": {"type": "string", "format": "date", "title": "Valid to"},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {"relation": {"type": "object"}, "created": {"type": "boolean"}, "entities": {"type": "array", "items": _ENTITY_OUT}},
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        if config.get("create_missing") and not (config.get("source_kind") and config.get("target_kind")):
            return ["create_missing: needs source_kind and target_kind"]
        return []

    def _entity(self, ctx: Context, config: dict, end: str) -> Entity:
        ref, kind = config[end], config.get(f"{end}_kind")
        try:
            return resolve(ctx.tenant, ref, kind, field=end)
        except ValidationError:
            if not config.get("create_missing") or (isinstance(ref, int) or str(ref).strip().isdigit()):
                raise
            return UpsertEntity(ctx.tenant, None, kind=kind, name=str(ref), origin=Origin.MANUAL).execute()[0]

    @_steps_error
    def run(self, ctx: Context, config: dict) -> dict:
        source, target = self._entity(ctx, config, "source"), self._entity(ctx, config, "target")
        relation, created = UpsertRelation(
            ctx.tenant, None, source=source, target=target, type=config["type"], origin=Origin.MANUAL,
            confidence=config.get("confidence", 1.0), valid_from=config.get("valid_from"), valid_to=config.get("valid_to"),
            evidence={"execution": getattr(ctx.execution, "pk", None)} if getattr(ctx, "execution", None) is not None else None,
        ).execute()  # fmt: skip
        names = {source.pk: source.name, target.pk: target.name}
        ctx.log(f"{'created' if created else 'updated'}: {source.name} {relation.type} {target.name}")
        return {"relation": relation_dict(relation, names), "created": created, "entities": [entity_dict(source), entity_dict(target)]}
