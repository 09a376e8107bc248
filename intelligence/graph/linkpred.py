"""Link prediction on plain data, shared by the product (inference.py) and the evaluation.

Heuristics (networkx) on the graph of the one relation type being predicted: common
neighbours, Adamic–Adar, resource allocation. The learned combiner is a logistic regression
over those three plus what the two entities share — industry, market, region, technology
(from attributes or from in_industry / in_market / in_region / uses relations) — trained on
the graph's own known edges of that type against sampled non-edges. Sparse tenant graphs
have few common neighbours; the shared facets are what make them predictable.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from intelligence.graph.types import FACET_RELATIONS, FACETS, normalize

if TYPE_CHECKING:
    import networkx as nx

# networkx and scikit-learn are imported inside the functions that build graphs and fit:
# Django's start-up imports this module (the graph steps → inference), and the two cost ~0.1 s
# and ~0.6 s to import.

HEURISTICS = ("common_neighbours", "adamic_adar", "resource_allocation")
FEATURES = (*HEURISTICS, "same_industry", "same_market", "same_region", "shared_technology", "degree_product")
LEARNED = "learned"
MIN_TRAINING_EDGES = 8  # fewer known edges than this: the product falls back to Adamic–Adar
# A big tenant's combiner learns from a seeded sample of its known edges: seven features need
# no more, and featurising every edge (with three non-edges each) costs seconds per thousand.
MAX_TRAINING_EDGES = 2000
NEGATIVES_PER_POSITIVE = 3
MAX_HUB_DEGREE = 500  # an entity related to more than this is not walked through for candidates
SEED = 0


@dataclass
class GraphData:
    """Entities (id → kind, name, attributes) and typed edges (source, type, target)."""

    kinds: dict[int, str]
    names: dict[int, str]
    attributes: dict[int, dict] = field(default_factory=dict)
    edges: list[tuple[int, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        import networkx as nx

        self.full = nx.Graph()
        self.full.add_nodes_from(self.kinds)
        self.full.add_edges_from((s, t) for s, _, t in self.edges)
        self.facets: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for pk, attrs in self.attributes.items():
            for facet in FACETS:
                value = attrs.get(facet) if facet != "technology" else attrs.get("technology", attrs.get("technologies"))
                for v in value if isinstance(value, list) else [value]:
                    if isinstance(v, str) and normalize(v):
                        self.facets[pk][facet].add(normalize(v))
        for s, type_, t in self.edges:
            if type_ in FACET_RELATIONS:
                self.facets[s][FACET_RELATIONS[type_]].add(normalize(self.names.get(t, str(t))))

    def relation_graph(self, type_: str, without: Iterable[tuple[int, int]] = ()) -> nx.Graph:
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(self.kinds)
        graph.add_edges_from((s, t) for s, r, t in self.edges if r == type_)
        graph.remove_edges_from(without)
        return graph

    def two_hop_counts(self, node: int, kinds: set[str] | None) -> dict[int, int]:
        """Entities two hops from `node` in the whole graph (through any relation), of `kinds`,
        with how many paths of two hops lead there. A hub (an industry of thousands) is no
        path here: it would make every member a candidate of every other, and what it says
        is in the facet features anyway."""
        counts: dict[int, int] = defaultdict(int)
        for mid in self.full[node]:
            if self.full.degree(mid) <= MAX_HUB_DEGREE:
                for far in self.full[mid]:
                    counts[far] += 1
        counts.pop(node, None)
        return {n: c for n, c in counts.items() if kinds is None or self.kinds.get(n) in kinds}

    def two_hop(self, node: int, kinds: set[str] | None) -> set[int]:
        return set(self.two_hop_counts(node, kinds))


def features(data: GraphData, graph: nx.Graph, pairs: list[tuple[int, int]]) -> np.ndarray:
    if not pairs:
        return np.zeros((0, len(FEATURES)))
    import networkx as nx

    cn = [len(list(nx.common_neighbors(graph, u, v))) for u, v in pairs]
    aa = [p for _, _, p in nx.adamic_adar_index(graph, pairs)]
    ra = [p for _, _, p in nx.resource_allocation_index(graph, pairs)]
    rows = []
    for i, (u, v) in enumerate(pairs):
        fu, fv = data.facets.get(u, {}), data.facets.get(v, {})
        same = [float(bool(fu.get(f, set()) & fv.get(f, set()))) for f in ("industry", "market", "region")]
        tech = float(len(fu.get("technology", set()) & fv.get("technology", set())))
        rows.append([cn[i], aa[i], ra[i], *same, tech, math.log1p(graph.degree(u) * graph.degree(v))])
    return np.asarray(rows, dtype=float)


@dataclass
class Model:
    """The chosen predictor for one relation type of one graph."""

    type: str
    method: str  # LEARNED or "adamic_adar"
    pipeline: object | None
    graph: nx.Graph
    training_edges: int

    def score(self, data: GraphData, pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """(scores in 0–1, feature rows) for `pairs`."""
        x = features(data, self.graph, pairs)
        if not len(pairs):
            return np.zeros(0), x
        if self.pipeline is not None:
            return self.pipeline.predict_proba(x)[:, 1], x
        aa = x[:, FEATURES.index("adamic_adar")]
        return aa / (1.0 + aa), x  # monotone in Adamic–Adar, squeezed into 0–1

    def contributions(self, row: np.ndarray) -> dict[str, float]:
        """How much each feature moved this pair's log-odds (coefficient × standardised value)."""
        if self.pipeline is None:
            return {"adamic_adar": float(row[FEATURES.index("adamic_adar")])}
        scaler, lr = self.pipeline[0], self.pipeline[-1]
        z = (row - scaler.mean_) / np.where(scaler.scale_ == 0, 1, scaler.scale_)
        return {name: float(c) for name, c in zip(FEATURES, lr.coef_[0] * z, strict=True)}


def sample_non_edges(data: GraphData, type_: str, kinds: tuple[set[str] | None, set[str] | None], count: int, rng: random.Random,
                     exclude: set[frozenset] = frozenset(), hard_from: list[int] | None = None) -> list[tuple[int, int]]:  # fmt: skip
    """`count` pairs not joined by `type_`: half two hops apart (hard ones, when `hard_from`), half at random."""
    linked = {frozenset((s, t)) for s, r, t in data.edges if r == type_} | set(exclude)
    left = sorted(n for n, k in data.kinds.items() if kinds[0] is None or k in kinds[0])
    right = sorted(n for n, k in data.kinds.items() if kinds[1] is None or k in kinds[1])
    out: list[tuple[int, int]] = []
    seen: set[frozenset] = set()
    if hard_from:
        for _ in range(count * 4):
            if len(out) >= count // 2:
                break
            u = rng.choice(hard_from)
            near = sorted(data.two_hop(u, kinds[1]))
            if near:
                v = rng.choice(near)
                key = frozenset((u, v))
                if u != v and key not in linked and key not in seen:
                    seen.add(key)
                    out.append((u, v))
    for _ in range(count * 20):
        if len(out) >= count or not left or not right:
            break
        u, v = rng.choice(left), rng.choice(right)
        key = frozenset((u, v))
        if u != v and key not in linked and key not in seen:
            seen.add(key)
            out.append((u, v))
    return out


def train(data: GraphData, type_: str, kinds: tuple[set[str] | None, set[str] | None], exclude: set[frozenset] = frozenset(),
          seed: int = SEED, force: str | None = None) -> Model:  # fmt: skip
    """The predictor the product uses for `type_`: the learned combiner when the graph has
    enough known edges of it (and both classes to learn from), else Adamic–Adar."""
    graph = data.relation_graph(type_)
    positives = [(s, t) for s, r, t in data.edges if r == type_]
    if force == "adamic_adar" or len(positives) < MIN_TRAINING_EDGES:
        return Model(type_, "adamic_adar", None, graph, len(positives))
    rng = random.Random(seed)
    if len(positives) > MAX_TRAINING_EDGES:
        positives = rng.sample(positives, MAX_TRAINING_EDGES)
    negatives = sample_non_edges(data, type_, kinds, len(positives) * NEGATIVES_PER_POSITIVE, rng, exclude, hard_from=[s for s, _ in positives])
    if not negatives:
        return Model(type_, "adamic_adar", None, graph, len(positives))
    x = features(data, graph, positives + negatives)
    y = np.asarray([1] * len(positives) + [0] * len(negatives))
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000, random_state=seed))
    pipeline.fit(x, y)
    return Model(type_, LEARNED, pipeline, graph, len(positives))


def heuristic_scores(data: GraphData, graph: nx.Graph, pairs: list[tuple[int, int]]) -> dict[str, np.ndarray]:
    x = features(data, graph, pairs)
    return {name: x[:, FEATURES.index(name)] if len(pairs) else np.zeros(0) for name in HEURISTICS}


_FACET_WORDS = {"same_industry": "industry", "same_market": "market", "same_region": "region"}


def explain(data: GraphData, model: Model, u: int, v: int, row: np.ndarray, score: float, relation_label: str) -> str:
    """The reason for a suggestion in words: what the pair shares, then the scores."""
    import networkx as nx

    name = data.names
    parts: list[str] = []
    shared = sorted(nx.common_neighbors(model.graph, u, v), key=lambda n: name.get(n, ""))
    if shared:
        who = ", ".join(name.get(n, str(n)) for n in shared[:3]) + (f" and {len(shared) - 3} more" if len(shared) > 3 else "")
        parts.append(f"both {relation_label} {who}")
    fu, fv = data.facets.get(u, {}), data.facets.get(v, {})
    for facet in _FACET_WORDS.values():
        common = sorted(fu.get(facet, set()) & fv.get(facet, set()))
        if common:
            parts.append(f"same {facet} ({', '.join(common[:2])})")
    tech = sorted(fu.get("technology", set()) & fv.get("technology", set()))
    if tech:
        parts.append(f"both use {', '.join(tech[:3])}")
    what = "; ".join(parts) if parts else "no shared neighbours or facets (a weak guess)"
    i = FEATURES.index
    scores = (
        f"Adamic–Adar {row[i('adamic_adar')]:.2f}, common neighbours {int(row[i('common_neighbours')])}, "
        f"resource allocation {row[i('resource_allocation')]:.2f}"
    )
    if model.method == LEARNED:
        top = sorted(model.contributions(row).items(), key=lambda kv: -kv[1])[:2]
        drivers = ", ".join(f"{k.replace('_', ' ')} (+{c:.2f})" for k, c in top if c > 0)
        return f"{name.get(u)} and {name.get(v)}: {what}. Learned combiner {score:.2f}" + (f", driven by {drivers}" if drivers else "") + f"; {scores}."
    return f"{name.get(u)} and {name.get(v)}: {what}. Adamic–Adar score {score:.2f} ({scores})."
