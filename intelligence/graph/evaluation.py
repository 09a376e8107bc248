"""Link-prediction quality on a CSV graph (`source,relation,target`), as `graph_eval` prints it.

The graph is loaded into a throwaway tenant (rolled back afterwards) and read back through
the product's own loader. The predicted relation is competes_with when the file has it, else
its most frequent relation. 10 % of its edges (seed 0) are hidden, with as many non-edges
drawn at random; every predictor scores those pairs (ROC AUC, average precision, precision
at k = the number of hidden edges), and ranks each hidden edge's source's two-hop
candidates — what Infer Relationships returns — for Hits@10. The learned combiner is trained
on the visible graph only, with the test non-edges kept out of its negatives.
"""

from __future__ import annotations

import csv
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.db import transaction
from sklearn.metrics import average_precision_score, roc_auc_score

from circuits.tenancy.models.tenants import Tenant
from intelligence.graph.inference import load_graph
from intelligence.graph.linkpred import FEATURES, HEURISTICS, LEARNED, SEED, GraphData, Model, features, sample_non_edges, train
from intelligence.graph.models import Entity, Origin, Relation
from intelligence.graph.types import BUILTIN_RELATIONS, normalize

HIDDEN_SHARE = 0.10
MAX_NAME = 200  # as Entity.name
HITS_AT = 10
# Kinds of entity a CSV implies: the target of these relations is of this kind, all else a company.
TARGET_KINDS = {"in_industry": "industry", "in_market": "market", "in_region": "region", "uses": "technology", "works_at": "company"}


class EvalError(ValueError):
    pass


def read_edges(path: Path) -> list[tuple[str, str, str]]:
    if not path.is_file():
        raise EvalError(f"{path} is not a file")
    edges = []
    number = 0
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                if not row or not any(cell.strip() for cell in row):
                    continue
                if number == 1 and [c.strip().lower() for c in row] == ["source", "relation", "target"]:
                    continue
                if len(row) != 3 or not all(cell.strip() for cell in row):
                    raise EvalError(f"{path}:{number}: expected source,relation,target, got {row!r}")
                source, relation, target = (cell.strip() for cell in row)
                if relation not in BUILTIN_RELATIONS:
                    raise EvalError(f"{path}:{number}: unknown relation {relation!r} (known: {', '.join(sorted(BUILTIN_RELATIONS))})")
                for name in (source, target):
                    if "\x00" in name:
                        raise EvalError(f"{path}:{number}: a name holds a NUL byte ({name[:40]!r})")
                    if len(name) > MAX_NAME:
                        raise EvalError(f"{path}:{number}: a name has at most {MAX_NAME} characters ({name[:40]!r}… has {len(name)})")
                if _key(source) == _key(target):
                    raise EvalError(f"{path}:{number}: {source!r} {relation} itself; a relation joins two different entities")
                edges.append((source, relation, target))
    except UnicodeDecodeError as exc:
        raise EvalError(f"{path}:{number + 1}: not UTF-8 text ({exc.reason} at byte {exc.start} of the line's block)") from None
    except csv.Error as exc:
        raise EvalError(f"{path}:{number + 1}: not CSV ({exc})") from None
    if not edges:
        raise EvalError(f"{path} has no edges")
    return edges


def _key(name: str) -> str:
    """The entity a name is in the throwaway tenant: its normalised name, as the product keys
    entities ("Acme" and "ACME" are one), or the name itself when nothing of it is left."""
    return normalize(name) or name


def _load(tenant: Tenant, edges: list[tuple[str, str, str]]) -> None:
    kinds: dict[str, str] = {}
    names: dict[str, str] = {}  # key → the first spelling seen
    for _, relation, target in edges:
        names.setdefault(_key(target), target)
        kinds.setdefault(_key(target), TARGET_KINDS.get(relation, "company"))
    for source, _, _ in edges:
        names.setdefault(_key(source), source)
        kinds.setdefault(_key(source), "company")
    ids = {
        e.key: e.pk
        for e in Entity.objects.bulk_create(Entity(tenant=tenant, kind=kind, name=names[key], key=key, origin=Origin.MANUAL) for key, kind in kinds.items())
    }
    if None in ids.values():  # backends that return no ids from bulk_create
        ids = dict(Entity.objects.for_tenant(tenant).values_list("key", "id"))
    rows: dict[tuple[int, int, str], Relation] = {}
    for source, relation, target in edges:
        s, t = ids[_key(source)], ids[_key(target)]
        if BUILTIN_RELATIONS[relation].symmetric:
            s, t = min(s, t), max(s, t)
        rows[(s, t, relation)] = Relation(tenant=tenant, source_id=s, target_id=t, type=relation, origin=Origin.MANUAL)
    Relation.objects.bulk_create(rows.values())


@dataclass
class Result:
    relation: str
    nodes: int
    edges: int
    hidden: int
    predictors: dict[str, dict[str, float]]
    chosen: str


def _metrics(scores: np.ndarray, labels: np.ndarray, k: int) -> dict[str, float]:
    order = np.lexsort((np.arange(len(scores)), -scores))
    return {
        "auc": round(float(roc_auc_score(labels, scores)), 4),
        "ap": round(float(average_precision_score(labels, scores)), 4),
        "p_at_k": round(float(labels[order[:k]].mean()), 4),
    }


def _scorer(name: str, model: Model, heuristic_model: Model, data: GraphData):
    if name == LEARNED:
        return lambda pairs: model.score(data, pairs)[0]
    column = FEATURES.index(name)
    return lambda pairs: features(data, heuristic_model.graph, pairs)[:, column] if pairs else np.zeros(0)


def evaluate(edges: list[tuple[str, str, str]], seed: int = SEED) -> Result:
    with transaction.atomic():
        tenant = Tenant.objects.create(name="graph_eval (throwaway)", slug=f"graph-eval-{uuid.uuid4().hex[:12]}")
        _load(tenant, edges)
        data = load_graph(tenant)
        transaction.set_rollback(True)  # the throwaway tenant never outlives the evaluation
    counts = Counter(r for _, r, _ in data.edges)
    relation = "competes_with" if "competes_with" in counts else counts.most_common(1)[0][0]
    definition = BUILTIN_RELATIONS[relation]
    kinds = (set(definition.source_kinds) if definition.source_kinds else None, set(definition.target_kinds) if definition.target_kinds else None)
    positives = sorted((s, t) for s, r, t in data.edges if r == relation)
    rng = random.Random(seed)
    rng.shuffle(positives)
    hidden = positives[: max(1, round(len(positives) * HIDDEN_SHARE))]
    if len(hidden) >= len(positives):
        raise EvalError(f"{relation} has {len(positives)} edge(s); at least two are needed to hide one")
    negatives = sample_non_edges(data, relation, kinds, len(hidden), rng)
    if not negatives:  # ROC AUC and AP compare hidden edges with non-edges: there must be some
        raise EvalError(f"no pair of entities that {relation} could join is unrelated by it (every pair is an edge); nothing to tell the hidden edges from")
    hidden_set = {frozenset(p) for p in hidden}
    visible = GraphData(data.kinds, data.names, data.attributes, [e for e in data.edges if not (e[1] == relation and frozenset((e[0], e[2])) in hidden_set)])
    learned = train(visible, relation, kinds, exclude={frozenset(p) for p in negatives}, seed=seed, force=None)
    heuristic = train(visible, relation, kinds, force="adamic_adar")
    chosen = learned.method
    # Shuffled, so ties (a heuristic's many zeros) fall in no particular class's favour at P@k.
    labelled = [(p, 1) for p in hidden] + [(p, 0) for p in negatives]
    rng.shuffle(labelled)
    pairs = [p for p, _ in labelled]
    labels = np.asarray([label for _, label in labelled])
    linked = {frozenset((s, t)) for s, r, t in visible.edges if r == relation}
    predictors: dict[str, dict[str, float]] = {}
    names = [*HEURISTICS] + ([LEARNED] if learned.method == LEARNED else [])
    for name in names:
        score = _scorer(name, learned, heuristic, visible)
        metrics = _metrics(np.asarray(score(pairs)), labels, len(hidden))
        hits = 0
        for u, v in hidden:
            candidates = sorted(c for c in visible.two_hop(u, kinds[1]) if frozenset((u, c)) not in linked)
            if v in candidates:
                values = np.asarray(score([(u, c) for c in candidates]))
                order = np.lexsort((np.arange(len(values)), -values))
                hits += v in {candidates[i] for i in order[:HITS_AT]}
        metrics[f"hits_at_{HITS_AT}"] = round(hits / len(hidden), 4)
        predictors[name] = metrics
    return Result(relation, len(data.kinds), len(data.edges), len(hidden), predictors, chosen)
