"""Reading the graph: neighbours (a bounded recursive CTE in the database), shortest path,
competitors of a company with the path as the reason, and the subgraph around an entity.

The walk treats relations as links both ways by default ("who is near"); `direction="out"`
follows them source → target only, except symmetric ones, which are stored once and always
link both ways. The CTE keeps (entity, depth) pairs with UNION, so it visits each entity at
most once per depth — no path explosion on dense graphs — and stops at MAX_DEPTH.

Only relations that hold today count: a relation's `valid_from` / `valid_to` (either may be
empty: open-ended) bound when it is true — a partnership that ended last year, or a
competitor from next quarter on, is not a link now. Inference and the pages' lists still see
every stored relation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from intelligence.graph.models import Entity, Relation
from intelligence.graph.types import SHARED_CONTEXT, normalize, relation_types

MAX_DEPTH = 4
MAX_NODES = 500
HUB_DEGREE = 500  # an entity with more relations is reached, not walked through
DIRECTIONS = ("both", "out", "in")


def held(qs: QuerySet) -> QuerySet:
    """The relations of `qs` that hold today (open-ended at either side when a date is empty)."""
    today = timezone.localdate()
    return qs.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today), Q(valid_to__isnull=True) | Q(valid_to__gte=today))


def _held_sql(alias: str) -> tuple[str, list]:
    """The same condition as `held`, for the walk's raw SQL on relation alias `alias`."""
    today = timezone.localdate()
    value = today if connection.vendor == "postgresql" else today.isoformat()  # SQLite stores dates as ISO text
    return (f" AND ({alias}.valid_from IS NULL OR {alias}.valid_from <= %s) AND ({alias}.valid_to IS NULL OR {alias}.valid_to >= %s)", [value, value])


def entity_dict(e: Entity) -> dict:
    return {"id": e.pk, "kind": e.kind, "name": e.name, "aliases": e.aliases, "attributes": e.attributes, "record_id": e.record_id, "origin": e.origin}


def relation_dict(r: Relation, names: dict[int, str] | None = None) -> dict:
    out = {
        "id": r.pk, "source": r.source_id, "target": r.target_id, "type": r.type, "origin": r.origin, "confidence": r.confidence,
        "valid_from": r.valid_from.isoformat() if r.valid_from else None, "valid_to": r.valid_to.isoformat() if r.valid_to else None,
        "evidence": r.evidence,
    }  # fmt: skip
    if names is not None:
        out["source_name"], out["target_name"] = names.get(r.source_id, ""), names.get(r.target_id, "")
    return out


def _check(tenant, depth: int, types: list[str] | None, direction: str) -> list[str] | None:
    if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= MAX_DEPTH:
        raise ValidationError({"depth": f"depth is a whole number from 1 to {MAX_DEPTH}."})
    if direction not in DIRECTIONS:
        raise ValidationError({"direction": f"direction is one of {', '.join(DIRECTIONS)}."})
    if types:
        known = relation_types(tenant)
        unknown = [t for t in types if t not in known]
        if unknown:
            raise ValidationError({"types": f"Unknown relation type(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}."})
        return sorted(set(types))
    return None


def reach(tenant, entity: Entity, depth: int = 1, types: list[str] | None = None, direction: str = "both", limit: int | None = MAX_NODES) -> dict[int, int]:
    """{entity id: fewest hops from `entity`} for the `limit` nearest entities within `depth`
    hops (not itself; limit None: all of them — the walk visits each once per depth anyway).

    A hub — an entity with more than HUB_DEGREE relations, like a region every company is in —
    is reached but not walked through (unless the walk starts there): through it, two hops
    would be half the graph, which says nothing and costs everything."""
    types = _check(tenant, depth, types, direction)
    table = Relation._meta.db_table
    symmetric = sorted(slug for slug, d in relation_types(tenant).items() if d.symmetric)

    def side(near: str, far: str, only_symmetric: bool) -> tuple[str, list]:
        """The relations leading from w.entity_id, one way round, as rows (b: the entity reached)."""
        sql, params = f"SELECT r.{far} AS b FROM {table} r WHERE r.{near} = w.entity_id AND r.tenant_id = %s", [tenant.pk]  # noqa: S608
        when, when_params = _held_sql("r")
        sql, params = sql + when, params + when_params
        if types:
            sql += f" AND r.type IN ({', '.join(['%s'] * len(types))})"
            params += types
        if only_symmetric:
            sql += f" AND r.type IN ({', '.join(['%s'] * len(symmetric)) or 'NULL'})"
            params += symmetric
        return sql, params

    forward, f_params = side("source_id", "target_id", only_symmetric=direction == "in")
    backward, b_params = side("target_id", "source_id", only_symmetric=direction == "out")
    # How many relations w.entity_id has, counted only up to one past HUB_DEGREE (index look-ups).
    degree = (
        f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} x WHERE x.source_id = w.entity_id LIMIT %s) AS o)"  # noqa: S608
        f" + (SELECT COUNT(*) FROM (SELECT 1 FROM {table} y WHERE y.target_id = w.entity_id LIMIT %s) AS i)"
    )
    if connection.vendor == "postgresql":
        # LATERAL makes PostgreSQL look each frontier entity's relations up by index; a plain
        # join lets it scan all of the tenant's relations once per step of the walk.
        step = f"SELECT l.b, w.depth + 1 FROM walk w CROSS JOIN LATERAL ({forward} UNION ALL {backward}) AS l"  # noqa: S608
        step_params = [*f_params, *b_params]
    else:  # SQLite has no LATERAL; its planner looks an OR of two indexed columns up by index
        ends = []
        step_params = []
        for near, only_symmetric in (("source_id", direction == "in"), ("target_id", direction == "out")):
            if only_symmetric:
                ends.append(f"(r.{near} = w.entity_id AND r.type IN ({', '.join(['%s'] * len(symmetric)) or 'NULL'}))")
                step_params += symmetric
            else:
                ends.append(f"r.{near} = w.entity_id")
        step = (
            "SELECT CASE WHEN r.source_id = w.entity_id THEN r.target_id ELSE r.source_id END, w.depth + 1 "  # noqa: S608
            f"FROM walk w JOIN {table} r ON ({' OR '.join(ends)}) AND r.tenant_id = %s"
        )
        step_params.append(tenant.pk)
        when, when_params = _held_sql("r")
        step, step_params = step + when, step_params + when_params
        if types:
            step += f" AND r.type IN ({', '.join(['%s'] * len(types))})"
            step_params += types
    # Only placeholders and our own table/column names are formatted in; every value is a parameter.
    sql = f"""
        WITH RECURSIVE walk(entity_id, depth) AS (
            SELECT CAST(%s AS BIGINT), 0
            UNION
            {step}
            WHERE w.depth < %s AND (w.depth = 0 OR {degree} <= %s)
        )
        SELECT entity_id, MIN(depth) AS hops FROM walk WHERE entity_id <> %s GROUP BY entity_id ORDER BY hops, entity_id{" LIMIT %s" if limit else ""}
    """  # noqa: S608
    params = [entity.pk, *step_params, depth, HUB_DEGREE + 1, HUB_DEGREE + 1, HUB_DEGREE, entity.pk, *([limit] if limit else [])]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {int(pk): int(hops) for pk, hops in cursor.fetchall()}


def _relations_among(tenant, ids: set[int], types: list[str] | None = None):
    qs = held(Relation.objects.for_tenant(tenant).filter(source_id__in=ids, target_id__in=ids))
    return qs.filter(type__in=types) if types else qs


def neighbours(tenant, entity: Entity, depth: int = 1, types: list[str] | None = None, direction: str = "both") -> list[dict]:
    """Each entity within `depth` hops with its distance and the relation it is reached by
    (from an entity one hop nearer)."""
    hops = reach(tenant, entity, depth, types, direction)
    hops_all = {entity.pk: 0, **hops}
    entities = {e.pk: e for e in Entity.objects.for_tenant(tenant).filter(pk__in=hops)}
    names = {pk: e.name for pk, e in entities.items()} | {entity.pk: entity.name}
    via: dict[int, Relation] = {}
    for r in _relations_among(tenant, set(hops_all), _check(tenant, depth, types, direction)).order_by("-confidence", "id"):
        for near, far in ((r.source_id, r.target_id), (r.target_id, r.source_id)):
            if far in hops and hops_all.get(near) == hops[far] - 1 and far not in via:
                via[far] = r
    return [
        {**entity_dict(entities[pk]), "hops": hops[pk], "via": relation_dict(via[pk], names) if pk in via else None}
        for pk in sorted(hops, key=lambda p: (hops[p], entities[p].name if p in entities else "")) if pk in entities
    ]  # fmt: skip


def shortest_path(tenant, source: Entity, target: Entity, max_depth: int = MAX_DEPTH, types: list[str] | None = None) -> dict | None:
    """The fewest-hops chain of relations from `source` to `target` (either direction), or None.

    Both ends walk out (unlimited in count: the target may lie beyond the source's nearest
    MAX_NODES), and only the entities on some shortest chain — as far from the source plus
    as far from the target as the chain is long — are read back to choose the chain."""
    if source.pk == target.pk:
        return {"entities": [entity_dict(source)], "relations": [], "hops": 0}
    _check(tenant, max_depth, types, "both")
    for depth in range(1, max_depth + 1):  # one hop deeper at a time: a walk costs ever more per hop, most paths are short
        hops = {source.pk: 0, **reach(tenant, source, depth, types, limit=None)}
        if target.pk in hops:
            break
    else:
        return None
    length = hops[target.pk]
    # From the target only as far as one hop short of the source: its walk is the cheaper the shorter.
    back = {target.pk: 0, **(reach(tenant, target, length - 1, types, limit=None) if length > 1 else {})}
    layer = {source.pk} | {pk for pk, h in hops.items() if h + back.get(pk, length + 1) == length}
    links: dict[int, list[Relation]] = defaultdict(list)
    for r in _relations_among(tenant, layer, types).order_by("-confidence", "id"):
        links[r.source_id].append(r)
        links[r.target_id].append(r)
    # The walk went through no hub: neither does the chain (a hub one hop from each end can
    # be in the layer without leading on).
    degree: dict[int, int] = defaultdict(int)
    for column in ("source_id", "target_id"):
        for pk, n in Relation.objects.for_tenant(tenant).filter(**{f"{column}__in": layer}).values_list(column).annotate(n=Count("id")).order_by():
            degree[pk] += n

    def nearer(r: Relation, node: int) -> bool:
        other = r.target_id if r.source_id == node else r.source_id
        return hops.get(other) == hops[node] - 1 and other in layer and (other == source.pk or degree[other] <= HUB_DEGREE)

    chain, node = [], target.pk
    while node != source.pk:  # walk back one hop at a time to an entity one hop nearer
        step = next(r for r in links[node] if nearer(r, node))
        chain.append(step)
        node = step.target_id if step.source_id == node else step.source_id
    chain.reverse()
    order = [source.pk]
    for r in chain:
        order.append(r.target_id if r.source_id == order[-1] else r.source_id)
    entities = {e.pk: e for e in Entity.objects.for_tenant(tenant).filter(pk__in=order)}
    names = {pk: e.name for pk, e in entities.items()}
    return {"entities": [entity_dict(entities[pk]) for pk in order], "relations": [relation_dict(r, names) for r in chain], "hops": length}


def subgraph(tenant, entity: Entity, depth: int = 1, types: list[str] | None = None, limit: int = 200) -> dict:
    """The entities within `depth` hops (nearest first, at most `limit`) and every relation among them."""
    hops = reach(tenant, entity, depth, types)
    kept = [entity.pk, *sorted(hops, key=lambda p: (hops[p], p))[: max(0, limit - 1)]]
    hops[entity.pk] = 0
    entities = {e.pk: e for e in Entity.objects.for_tenant(tenant).filter(pk__in=kept)}
    names = {pk: e.name for pk, e in entities.items()}
    relations = _relations_among(tenant, set(kept), types).order_by("id")
    return {
        "center": entity.pk,
        "entities": [{**entity_dict(entities[pk]), "hops": hops[pk]} for pk in kept if pk in entities],
        "relations": [relation_dict(r, names) for r in relations],
        "truncated": len(hops) > len(kept),
    }


@dataclass
class Competitor:
    entity: Entity
    score: float
    direct: bool
    reason: str
    paths: list[list]  # each [entity name, relation, entity name, …]


def competitors(tenant, company: Entity, limit: int = 10, indirect: bool = True) -> list[dict]:
    """Who competes with `company`: stated competes_with relations (score = their confidence),
    then companies sharing a market, industry or technology with it. A shared context counts
    1 / ln(1 + companies in it) — the Adamic–Adar weight: a niche market shared says more than
    a broad industry — and the total s maps to a score s / (1 + s) below any direct one's 1."""
    found: dict[int, Competitor] = {}
    relations = held(Relation.objects.for_tenant(tenant))
    for r in relations.filter(type="competes_with").filter(source=company).select_related("target"):
        found[r.target_id] = Competitor(
            r.target, r.confidence, True, f"competes with {company.name} ({r.get_origin_display().lower()})", [[company.name, "competes_with", r.target.name]]
        )
    for r in relations.filter(type="competes_with").filter(target=company).select_related("source"):
        found[r.source_id] = Competitor(
            r.source, r.confidence, True, f"competes with {company.name} ({r.get_origin_display().lower()})", [[company.name, "competes_with", r.source.name]]
        )
    if indirect:
        contexts = {r.target_id: (r.type, r.target) for r in relations.filter(source=company, type__in=list(SHARED_CONTEXT)).select_related("target")}
        sharing = (
            relations.filter(target_id__in=list(contexts), type__in=list(SHARED_CONTEXT), source__kind=company.kind)
            .exclude(source=company)
            .select_related("source")
        )
        members: dict[int, set[int]] = defaultdict(set)
        by_rival: dict[int, list[Relation]] = defaultdict(list)
        for r in sharing:
            if contexts[r.target_id][0] == r.type:
                members[r.target_id].add(r.source_id)
                by_rival[r.source_id].append(r)
        for rival_id, links in by_rival.items():
            weight, parts, paths = 0.0, [], []
            for r in sorted(links, key=lambda r: len(members[r.target_id])):
                kind, context = contexts[r.target_id]
                size = len(members[r.target_id]) + 1  # with the company itself
                weight += 1.0 / math.log(1 + size)
                parts.append(f"the {SHARED_CONTEXT[kind] if context.kind not in ('product',) else 'product'} {context.name!r} ({size} companies)")
                paths.append([company.name, kind, context.name, kind, r.source.name])
            reason = "shares " + ", ".join(parts) + f" with {company.name}"
            score = round(weight / (1 + weight), 4)
            if rival_id in found:
                found[rival_id].reason += "; also " + reason
                found[rival_id].paths += paths
            else:
                found[rival_id] = Competitor(links[0].source, score, False, reason, paths)
    ranked = sorted(found.values(), key=lambda c: (-c.score, c.entity.name))[:limit]
    return [{**entity_dict(c.entity), "score": round(c.score, 4), "direct": c.direct, "reason": c.reason, "paths": c.paths} for c in ranked]


def resolve(tenant, ref, kind: str | None = None, field: str = "entity") -> Entity:
    """The entity `ref` names: its id (a number), or its name or an alias (normalised), of
    `kind` if given. ValidationError naming `field` when there is none or more than one."""
    entities = Entity.objects.for_tenant(tenant)
    if kind:
        entities = entities.filter(kind=kind)
    if (isinstance(ref, int) and not isinstance(ref, bool)) or (isinstance(ref, str) and ref.strip().isdigit() and len(ref.strip()) < 19):
        found = entities.filter(pk=int(ref)).first()
        if found is None:
            raise ValidationError({field: f"No entity {ref} in this tenant."})
        return found
    if not isinstance(ref, str) or not normalize(ref):
        raise ValidationError({field: "Name an entity by its id or its name."})
    key = normalize(ref)
    matches = list(entities.filter(key=key)[:5])
    if not matches:  # an alias (few entities carry them; matched like names)
        matches = [e for e in entities.exclude(aliases=[]) if key in {normalize(a) for a in e.aliases}][:5]
    if not matches:
        raise ValidationError({field: f"No {kind or 'entity'} called {ref!r} in this tenant."})
    if len(matches) > 1:
        raise ValidationError({field: f"{ref!r} names more than one entity ({', '.join(f'{e.kind} #{e.pk}' for e in matches)}); give its kind or id."})
    return matches[0]


def company_for_record(tenant, record_id) -> Entity:
    """The company entity synced from account record `record_id`."""
    try:
        pk = int(record_id)
    except (TypeError, ValueError):
        raise ValidationError({"account_id": f"{record_id!r} is not a record id."}) from None
    entity = Entity.objects.for_tenant(tenant).filter(kind="company", record_id=pk).order_by("pk").first()  # a contact's id names a person
    if entity is None:
        raise ValidationError({"account_id": f"Account {pk} is not in the graph (no such account, or it has no name)."})
    return entity
