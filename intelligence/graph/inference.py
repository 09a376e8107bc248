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

import threading
from collections import OrderedDict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max

from intelligence.graph.linkpred import FEATURES, GraphData, Model, explain, train
from intelligence.graph.models import Entity, Relation, Suggestion, SuggestionStatus
from intelligence.graph.types import RelationDef, get_relation_type, relation_types

MAX_SUGGESTIONS = 100
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


def predict(
    tenant, type_: str = "competes_with", entity: Entity | None = None, data: GraphData | None = None, models: dict[str, Model] | None = None
) -> list[Proposal]:
    """Scored candidates of `type_` (for `entity` only, if given), best first. `models` (by
    type) holds models trained on `data` and receives the one trained here."""
    definition = get_relation_type(tenant, type_)
    data = data or load_graph(tenant)
    kinds = _kinds(definition)
    models = {} if models is None else models
    if type_ not in models:
        models[type_] = train(data, type_, kinds)
    model = models[type_]
    pairs: set[tuple[int, int]] = set()
    if entity is None:
        for u in sorted(n for n, k in data.kinds.items() if kinds[0] is None or k in kinds[0]):
            pairs |= {_canonical(definition, u, v) for v in data.two_hop(u, kinds[1])}
    else:  # the entity as the source where its kind fits, and as the target where that fits
        if kinds[0] is None or entity.kind in kinds[0]:
            pairs |= {(entity.pk, v) for v in data.two_hop(entity.pk, kinds[1])}
        if not definition.symmetric and (kinds[1] is None or entity.kind in kinds[1]):
            pairs |= {(u, entity.pk) for u in data.two_hop(entity.pk, kinds[0])}
    linked = {(s, t) for s, r, t in data.edges if r == type_}
    if definition.symmetric:
        linked |= {(t, s) for s, t in linked}
    ordered = sorted(p for p in pairs if p not in linked and p[0] != p[1])
    scores, rows = model.score(data, ordered)
    label = definition.label
    out = []
    for (u, v), score, row in zip(ordered, scores, rows, strict=True):
        s, t = _canonical(definition, u, v)
        details = {"features": {k: round(float(x), 4) for k, x in zip(FEATURES, row, strict=True)}}
        out.append(Proposal(s, t, type_, round(float(score), 4), model.method, explain(data, model, u, v, row, float(score), label), details))
    return sorted(out, key=lambda p: (-p.score, p.source, p.target))


def transitive_rules(tenant, data: GraphData, entity: Entity | None = None) -> list[Proposal]:
    out: list[Proposal] = []
    confidences = {(s, r, t): c for s, r, t, c in Relation.objects.for_tenant(tenant).values_list("source_id", "type", "target_id", "confidence")}
    for slug, definition in relation_types(tenant).items():
        if not definition.transitive:
            continue
        following: dict[int, list[int]] = {}
        for s, r, t in data.edges:
            if r == slug:
                following.setdefault(s, []).append(t)
        for a, bs in following.items():
            for b in bs:
                for c in following.get(b, []):
                    if c == a or (a, slug, c) in confidences or (entity is not None and entity.pk not in (a, c)):
                        continue
                    score = round(confidences[(a, slug, b)] * confidences[(b, slug, c)], 4)
                    n = data.names
                    reason = f"{n[a]} {definition.label} {n[b]} and {n[b]} {definition.label} {n[c]}; {slug} is declared transitive."
                    out.append(Proposal(a, c, slug, score, "rule:transitive", reason, {"via": b}))
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
    proposals = [p for t in dict.fromkeys(types) for p in predict(tenant, t, entity, data, models)]
    proposals += [p for p in transitive_rules(tenant, data, entity) if p.type in types]
    decided = set(Suggestion.objects.for_tenant(tenant).exclude(status=SuggestionStatus.PENDING).values_list("source_id", "target_id", "type"))
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
            row, _ = Suggestion.objects.update_or_create(
                tenant=tenant, source_id=p.source, target_id=p.target, type=p.type, status=SuggestionStatus.PENDING,
                defaults={"score": p.score, "method": p.method, "reason": p.reason, "details": p.details},
            )  # fmt: skip
            saved.append(row)
    return saved
