"""Suggested relations for a tenant: link prediction on its own graph, plus the rules its
relation types declare, each with a score and a reason in words.

- Prediction (linkpred.py): for a relation type, candidates are the entities two hops from
  each other through any relation (what shares a market, a technology, a competitor…) that
  fit the type's declared kinds and are not yet related by it; the chosen predictor scores them.
- Rules: a transitive type (subsidiary_of, part_of, or a tenant's own) suggests A→C from
  A→B and B→C, scored by the product of their confidences. A symmetric type (competes_with,
  partner_of) is stored once in canonical order, so A→B answers B→A too and no pair is
  suggested in both directions.
Rejected suggestions are never made again; accepted ones are relations already.
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max

from intelligence.graph.linkpred import FEATURES, MAX_HUB_DEGREE, GraphData, Model, explain, train
from intelligence.graph.models import Entity, Relation, Suggestion, SuggestionStatus
from intelligence.graph.types import RelationDef, get_relation_type, relation_types

MAX_SUGGESTIONS = 100
# Bounds of one inference run (it runs inside a request or a step): how many candidate pairs
# are scored at most, and how many of each source entity's a whole-tenant run considers.
MAX_CANDIDATES = 20_000
PER_SOURCE_CANDIDATES = 10
CACHED_GRAPHS = 2  # tenants whose loaded graph and trained models a process keeps
_cache: OrderedDict[int, tuple[tuple, GraphData, dict[str, Model]]] = OrderedDict()
_cache_lock = threading.Lock()


def load_graph(tenant) -> GraphData:
    entities = list(Entity.objects.for_tenant(tenant).values_list("id", "kind", "name", "attributes"))
    edges = list(Relation.objects.for_tenant(tenant).values_list("source_id", "type", "target_id"))
    return GraphData(
        kinds={pk: kind for pk, kind, _, _ in entities},
        names={pk: name for pk, _, name, _ in entities},
        attributes={pk: attrs or {} for pk, _, _, attrs in entities},
        edges=edges,
    )


def _signature(tenant) -> tuple:
    """What changes whenever the graph does through the ORM: rows added, removed or saved."""

    def of(model) -> tuple:
        row = model.objects.for_tenant(tenant).aggregate(n=Count("id"), top=Max("id"), at=Max("updated_at"))
        return row["n"], row["top"], row["at"]

    return of(Entity), of(Relation)


def graph_and_models(tenant) -> tuple[GraphData, dict[str, Model]]:
    """The tenant's graph and the models trained on it, reused while the graph is unchanged
    (loading and training take seconds on a big tenant; the signature costs two aggregates)."""
    signature = _signature(tenant)
    with _cache_lock:
        hit = _cache.get(tenant.pk)
        if hit is not None and hit[0] == signature:
            _cache.move_to_end(tenant.pk)
            return hit[1], hit[2]
    data = load_graph(tenant)
    models: dict[str, Model] = {}
    with _cache_lock:
        _cache[tenant.pk] = (signature, data, models)
        _cache.move_to_end(tenant.pk)
        while len(_cache) > CACHED_GRAPHS:
            _cache.popitem(last=False)
    return data, models


@dataclass
class Proposal:
    source: int
    target: int
    type: str
    score: float
    method: str
    reason: str
    details: dict


def _canonical(definition: RelationDef, u: int, v: int) -> tuple[int, int]:
    return (min(u, v), max(u, v)) if definition.symmetric else (u, v)


def _kinds(definition: RelationDef) -> tuple[set[str] | None, set[str] | None]:
    return (set(definition.source_kinds) if definition.source_kinds else None, set(definition.target_kinds) if definition.target_kinds else None)


def _candidates(data: GraphData, definition: RelationDef, entity: Entity | None, kinds, unwanted: set) -> dict[tuple[int, int], int]:
    """Candidate pairs (canonical, not in `unwanted`) with how many two-hop paths join them. A whole-tenant run
    keeps each source's PER_SOURCE_CANDIDATES best-connected candidates, so its cost grows
    with the entities, not with the square of a dense neighbourhood; then at most
    MAX_CANDIDATES pairs are scored, the best-connected first."""
    if entity is None:
        sources = sorted(n for n, k in data.kinds.items() if kinds[0] is None or k in kinds[0])
        per_source = PER_SOURCE_CANDIDATES
    else:  # the entity as the source where its kind fits, and as the target where that fits
        sources = [entity.pk] if kinds[0] is None or entity.kind in kinds[0] else []
        per_source = MAX_CANDIDATES
    paths: dict[tuple[int, int], int] = {}

    def keep(found: dict[int, int], pair) -> None:
        fresh = [(v, n) for v, n in found.items() if pair(v) not in unwanted]  # related or decided pairs take no place
        for v, n in heapq.nlargest(per_source, fresh, key=lambda kv: (kv[1], -kv[0])):
            key = pair(v)
            paths[key] = max(paths.get(key, 0), n)

    for u in sources:
        keep(data.two_hop_counts(u, kinds[1]), lambda v, u=u: _canonical(definition, u, v))
    if entity is not None and not definition.symmetric and (kinds[1] is None or entity.kind in kinds[1]):
        keep(data.two_hop_counts(entity.pk, kinds[0]), lambda v: (v, entity.pk))
    if len(paths) > MAX_CANDIDATES:
        paths = dict(heapq.nlargest(MAX_CANDIDATES, paths.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1])))
    return paths


def predict(
    tenant, type_: str = "competes_with", entity: Entity | None = None, data: GraphData | None = None, models: dict[str, Model] | None = None,
    skip: set[tuple[int, int, str]] = frozenset(), top: int | None = None, min_score: float = 0.0,
) -> list[Proposal]:  # fmt: skip
    """Scored candidates of `type_` (for `entity` only, if given), best first, without the
    pairs in `skip` and below `min_score`; only the `top` best are explained and returned.
    `models` (by type) holds models trained on `data` and receives the one trained here."""
    definition = get_relation_type(tenant, type_)
    data = data or load_graph(tenant)
    kinds = _kinds(definition)
    models = {} if models is None else models
    if type_ not in models:
        models[type_] = train(data, type_, kinds)
    model = models[type_]
    linked = {(s, t) for s, r, t in data.edges if r == type_}
    if definition.symmetric:
        linked |= {(t, s) for s, t in linked}
    unwanted = linked | {(s, t) for s, t, r in skip if r == type_}
    ordered = sorted(p for p in _candidates(data, definition, entity, kinds, unwanted) if p[0] != p[1])
    scores, rows = model.score(data, ordered)
    ranked = sorted((i for i in range(len(ordered)) if scores[i] >= min_score), key=lambda i: (-float(scores[i]), ordered[i]))
    label = definition.label
    out = []
    for i in ranked[:top] if top is not None else ranked:
        (u, v), score, row = ordered[i], float(scores[i]), rows[i]
        details = {"features": {k: round(float(x), 4) for k, x in zip(FEATURES, row, strict=True)}}
        out.append(Proposal(u, v, type_, round(score, 4), model.method, explain(data, model, u, v, row, score, label), details))
    return out


def transitive_rules(tenant, data: GraphData, entity: Entity | None = None) -> list[Proposal]:
    """A→C from A→B and B→C for each transitive type (both ways round for a symmetric one,
    proposed in stored order). A chain through a hub is not followed (a parent of thousands
    would propose millions of pairs), and at most MAX_CANDIDATES are proposed per type."""
    out: list[Proposal] = []
    transitive = {slug: d for slug, d in relation_types(tenant).items() if d.transitive}
    rows = Relation.objects.for_tenant(tenant).filter(type__in=list(transitive)).values_list("source_id", "type", "target_id", "confidence")
    confidences = {(s, r, t): c for s, r, t, c in rows}
    n = data.names
    for slug, definition in transitive.items():
        following: dict[int, dict[int, float]] = defaultdict(dict)
        for s, r, t in data.edges:
            if r == slug:
                following[s][t] = confidences.get((s, r, t), 1.0)
                if definition.symmetric:
                    following[t][s] = following[s][t]
        preceding: dict[int, dict[int, float]] = defaultdict(dict)
        for a, bs in following.items():
            for b, confidence in bs.items():
                preceding[b][a] = confidence

        def chains(following=following, preceding=preceding, definition=definition):
            """(a, b, c, a→b, b→c) for every chain a→b→c (touching `entity`, if given)."""
            if entity is None or definition.symmetric:  # a symmetric chain ending at the entity is one starting there
                starts = [entity.pk] if entity is not None else sorted(following)
                for a in starts:
                    for b, ab in sorted(following.get(a, {}).items()):
                        if len(following.get(b, ())) <= MAX_HUB_DEGREE:
                            yield from ((a, b, c, ab, bc) for c, bc in sorted(following.get(b, {}).items()))
                return
            for b, ab in sorted(following.get(entity.pk, {}).items()):  # the entity as A
                if len(following.get(b, ())) <= MAX_HUB_DEGREE:
                    yield from ((entity.pk, b, c, ab, bc) for c, bc in sorted(following.get(b, {}).items()))
            for b, bc in sorted(preceding.get(entity.pk, {}).items()):  # the entity as C
                if len(preceding.get(b, ())) <= MAX_HUB_DEGREE:
                    yield from ((a, b, entity.pk, ab, bc) for a, ab in sorted(preceding.get(b, {}).items()))

        proposed: dict[tuple[int, int], Proposal] = {}
        for a, b, c, ab, bc in chains():
            key = _canonical(definition, a, c)
            if c == a or c in following.get(a, {}) or a in following.get(c, {}) or key in proposed:  # a loop is not closed the other way
                continue
            reason = f"{n[a]} {definition.label} {n[b]} and {n[b]} {definition.label} {n[c]}; {slug} is declared transitive."
            proposed[key] = Proposal(*key, slug, round(ab * bc, 4), "rule:transitive", reason, {"via": b})
            if len(proposed) >= MAX_CANDIDATES:
                break
        out += proposed.values()
    return out


def infer(tenant, types: list[str] | None = None, entity: Entity | None = None, limit: int = 20, min_score: float = 0.0, save: bool = True) -> list[Suggestion]:
    """Suggestions of `types` (default competes_with), best first, at most `limit`; with
    save, stored as pending — never again for a pair the tenant rejected or accepted."""
    if entity is not None and entity.tenant_id != tenant.pk:
        raise ValidationError({"entity": "No such entity in this tenant."})
    if not 1 <= limit <= MAX_SUGGESTIONS:
        raise ValidationError({"limit": f"limit is from 1 to {MAX_SUGGESTIONS}."})
    types = types or ["competes_with"]
    for type_ in types:
        get_relation_type(tenant, type_)  # unknown types are refused before any work
    data, models = graph_and_models(tenant)
    decided = set(Suggestion.objects.for_tenant(tenant).exclude(status=SuggestionStatus.PENDING).values_list("source_id", "target_id", "type"))
    # A type made symmetric after a decision: the pair is proposed in stored order now.
    definitions = relation_types(tenant)
    decided |= {(min(s, t), max(s, t), r) for s, t, r in decided if r in definitions and definitions[r].symmetric}
    proposals = [p for t in dict.fromkeys(types) for p in predict(tenant, t, entity, data, models, skip=decided, top=limit, min_score=min_score)]
    proposals += [p for p in transitive_rules(tenant, data, entity) if p.type in types]
    best: dict[tuple, Proposal] = {}
    for p in proposals:
        key = (p.source, p.target, p.type)
        if key not in decided and p.score >= min_score and (key not in best or best[key].score < p.score):
            best[key] = p
    chosen = sorted(best.values(), key=lambda p: (-p.score, p.source, p.target))[:limit]
    if not save:
        return [
            Suggestion(tenant=tenant, source_id=p.source, target_id=p.target, type=p.type, score=p.score, method=p.method, reason=p.reason, details=p.details)
            for p in chosen
        ]
    saved = []
    with transaction.atomic():
        for p in chosen:
            try:
                with transaction.atomic():
                    row, _ = Suggestion.objects.update_or_create(
                        tenant=tenant, source_id=p.source, target_id=p.target, type=p.type, status=SuggestionStatus.PENDING,
                        defaults={"score": p.score, "method": p.method, "reason": p.reason, "details": p.details},
                    )  # fmt: skip
            except IntegrityError:  # decided, or stored by a run beside this one, since `decided` was read
                row = Suggestion.objects.for_tenant(tenant).filter(source_id=p.source, target_id=p.target, type=p.type, status=SuggestionStatus.PENDING).first()
                if row is None:
                    continue
            saved.append(row)
    return saved
