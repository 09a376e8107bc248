"""The query router: which intent a query has, and so how to search it.

Transparent by construction. First rules (regular expressions a person can read), then a
small classifier trained on the labelled examples in data/router_examples.jsonl: the
nearest intent centroid of their MiniLM embeddings. The route returned says which rule or
which similarity decided it.

The router picks sides, preferred sources and recency — not finely tuned weights: choosing
fusion weights per query measured no gain (see the issue's table), while preferring the
current policy, the newest news item or a competitor brief fixes whole classes of misses.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from intelligence.rag.embeddings import embed_query, get_embedder
from intelligence.rag.routes import INTENTS, Route

EXAMPLES = Path(__file__).resolve().parent / "data" / "router_examples.jsonl"
IDENTIFIER = re.compile(r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b|\b[A-Z]{2,}\d+\b")
NEWS = r"\b(latest|newest|recent(ly)?|news|this (week|month|quarter)|today|yesterday|announce(d|ment)?s?|press release|headlines?)\b"
RIVALS = r"\b(competitors?|competition|rivals?|versus|vs\.?|battle ?cards?|compared? (to|with)|win against)\b"
HOW_TO = r"^\s*(how (do|can|should) (i|we)|how to|steps to|where do i|what do i do)\b"
PRACTICE = r"\b(best practices?|tips?|advice|playbook|do'?s and don'?ts|best way|recommended approach)\b"
FACTS = r"\b(current|policy|policies|allowance|budget|in force)\b"
RULES: list[tuple[str, re.Pattern, str]] = [
    ("recent_news", re.compile(NEWS, re.I), "mentions news or recency"),
    ("competitor", re.compile(RIVALS, re.I), "mentions competitors"),
    ("how_to", re.compile(HOW_TO, re.I), "asks how to do something"),
    ("best_practice", re.compile(PRACTICE, re.I), "asks for best practice"),
    ("company_facts", re.compile(FACTS, re.I), "asks about a current rule or fact"),
]
# The intents themselves (preferred sources, recency, weights) are in routes.py, shared with the search.
MIN_CONFIDENCE = 0.3  # below this cosine to the nearest intent centroid the classifier abstains
IDENTIFIER_WEIGHT = 0.35  # codes like QX-4471-B: BM25 matches them exactly, vectors blur them


@dataclass
class Decision:
    intent: str
    reason: str
    scores: dict[str, float] = field(default_factory=dict)
    identifiers: list[str] = field(default_factory=list)


class CentroidClassifier:
    """Nearest centroid of the labelled examples' embeddings (cosine)."""

    def __init__(self, examples: list[dict]) -> None:
        names = sorted({e["intent"] for e in examples})
        vectors = get_embedder().embed([e["text"] for e in examples])
        labels = np.array([names.index(e["intent"]) for e in examples])
        centroids = np.stack([vectors[labels == i].mean(axis=0) for i in range(len(names))])
        self.names = names
        self.centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)

    def scores(self, query: str, allowed: set[str] | None = None) -> dict[str, float]:
        vector = embed_query(query)
        return {name: float(s) for name, s in zip(self.names, self.centroids @ vector, strict=True) if allowed is None or name in allowed}


_classifier: CentroidClassifier | None = None
_lock = threading.Lock()


def classifier() -> CentroidClassifier:
    global _classifier
    with _lock:
        if _classifier is None:
            examples = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]
            _classifier = CentroidClassifier(examples)
        return _classifier


def classify(query: str, allowed: set[str] | None = None) -> Decision:
    """The query's intent; `allowed` limits the choice (a step that only retrieves best practice)."""
    identifiers = IDENTIFIER.findall(query)
    for intent, pattern, why in RULES:
        if allowed is not None and intent not in allowed:
            continue
        found = pattern.search(query)
        if found:
            return Decision(intent, f"rule: {why} ({found.group(0).strip()!r})", identifiers=identifiers)
    scores = classifier().scores(query, allowed)
    best = max(scores, key=scores.get)
    rounded = {k: round(v, 3) for k, v in scores.items()}
    if scores[best] < MIN_CONFIDENCE and allowed is None:
        # Far from every intent's examples: a guess would bring that intent's preferences
        # (sources, recency) to a query they do not fit, so take the neutral route.
        return Decision("general", f"classifier unsure (nearest: {best}, cosine {scores[best]:.2f} < {MIN_CONFIDENCE}): general route", rounded, identifiers)
    return Decision(best, f"classifier: nearest to the {best} examples (cosine {scores[best]:.2f})", rounded, identifiers)


def route_query(query: str, allowed: set[str] | None = None) -> Route:
    decision = classify(query, allowed)
    intent = INTENTS[decision.intent]
    weight, reason = intent.dense_weight, decision.reason
    if decision.identifiers:
        weight = IDENTIFIER_WEIGHT
        reason += f"; identifier {decision.identifiers[0]!r} → lean on BM25 (dense weight {IDENTIFIER_WEIGHT})"
    return Route(
        name=intent.name,
        mode="hybrid",
        dense_weight=weight,
        prefer_tags=list(intent.prefer_tags),
        recency_weight=intent.recency_weight,
        half_life_days=intent.half_life_days,
        authority_weight=intent.authority_weight,
        reason=reason,
        classifier_scores=decision.scores,
    )
