"""The sparse side: BM25 over a tenant's chunks, in process, kept in step with the chunks.

Why in process (bm25s) and not PostgreSQL full-text search: `websearch_to_tsquery` ANDs the
terms (37 % of known-item queries then find nothing), and OR-of-terms FTS ranks well but
takes ~400 ms p50 at 100k chunks; bm25s answers in a few ms with the same ranking quality,
and works the same on SQLite. Terms are lower-cased, English stop words dropped and Snowball
stemmed, so "refunds" finds "refund" — and any one matching term is enough (OR semantics).

Each process keeps one index per tenant (LRU), tagged with the tenant's chunk version
(CorpusVersion, bumped in the same transaction as any chunk change); a stale index is
rebuilt before it answers — except that a big tenant's index (RAG_SPARSE_LAZY_ABOVE chunks;
a rebuild takes seconds there) may answer for up to RAG_SPARSE_MAX_STALE_SECONDS after a
change: a deleted chunk still never shows (results are read back from the database), and a
new one is found once the index is rebuilt.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import Stemmer
from django.conf import settings

from intelligence.rag.chunking import indexed_text
from intelligence.rag.models import Chunk, CorpusVersion

if TYPE_CHECKING:
    import bm25s

# bm25s is imported on first use: it imports SciPy's sparse matrices (~0.15 s), and Django's
# start-up imports this module (the RAG steps → search).

MAX_TENANTS = 32
_STEMMER = Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, lower=True, stopwords="en", stemmer=_STEMMER.stemWords, return_ids=False, show_progress=False)


def generation(tenant) -> int:
    """The tenant's chunk version (bumped by every ingest, re-ingest and delete): one row read."""
    return CorpusVersion.of(tenant.pk)[0]


@dataclass
class SparseIndex:
    generation: int
    chunk_ids: np.ndarray  # position → chunk id
    document_ids: np.ndarray  # position → document id (filters mask by document)
    bm25: bm25s.BM25 | None
    idf: np.ndarray | None = None  # per vocabulary id, BM25's (Lucene) inverse document frequency
    typical_idf: float = 0.0  # the median idf: what a term missing from the corpus counts for
    built_at: float = field(default_factory=time.monotonic)

    def coverage(self, query: str, best: float) -> float:
        """How much of the query the best BM25 match covers, 0–1: its score over the score of
        an average-length chunk holding every query term once (Σ idf; a term absent from the
        corpus counts with the corpus's median idf). Low for a paraphrase whose only matches are
        common words; high for a rare identifier that matches."""
        if self.bm25 is None or self.idf is None:
            return 0.0
        terms = set(tokenize([query])[0]) - {""}
        if not terms:
            return 0.0
        ideal = sum(float(self.idf[self.bm25.vocab_dict[t]]) if t in self.bm25.vocab_dict else self.typical_idf for t in terms)
        return max(0.0, min(1.0, best / ideal)) if ideal > 0 else 0.0

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    def search(self, query: str, k: int, allowed_documents: set[int] | None = None) -> list[tuple[int, float]]:
        """The top `k` (chunk id, BM25 score) with a score above zero."""
        if self.bm25 is None or k <= 0:
            return []
        terms = [t for t in tokenize([query])[0] if t in self.bm25.vocab_dict]
        if not terms:
            return []
        scores = self.bm25.get_scores(terms)
        if allowed_documents is not None:
            scores = np.where(np.isin(self.document_ids, np.fromiter(allowed_documents, dtype=np.int64)), scores, 0.0)
        k = min(k, int((scores > 0).sum()))
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.chunk_ids[i]), float(scores[i])) for i in top]


def _build(tenant, current: int) -> SparseIndex:
    rows = list(Chunk.objects.for_tenant(tenant).order_by("id").values_list("id", "document_id", "heading", "text", "document__title"))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    docs = np.array([r[1] for r in rows], dtype=np.int64)
    if not rows:
        return SparseIndex(current, ids, docs, None)
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index(tokenize([indexed_text(r[4], r[2], r[3]) for r in rows]), show_progress=False)
    frequency = np.diff(bm25.scores["indptr"]).astype(np.float64)  # chunks holding each term
    idf = np.log(1 + (len(rows) - frequency + 0.5) / (frequency + 0.5))
    return SparseIndex(current, ids, docs, bm25, idf, float(np.median(idf)) if len(idf) else 0.0)


def _may_lag(index: SparseIndex) -> bool:
    return index.size >= settings.RAG_SPARSE_LAZY_ABOVE and time.monotonic() - index.built_at < settings.RAG_SPARSE_MAX_STALE_SECONDS


_cache: OrderedDict[int, SparseIndex] = OrderedDict()
_lock = threading.Lock()
_building: dict[int, threading.Lock] = {}


def index_for(tenant) -> SparseIndex:
    """The tenant's BM25 index, rebuilt first if any chunk was added or removed since."""
    current = generation(tenant)
    with _lock:
        cached = _cache.get(tenant.pk)
        if cached is not None and (cached.generation == current or _may_lag(cached)):
            _cache.move_to_end(tenant.pk)
            return cached
        build_lock = _building.setdefault(tenant.pk, threading.Lock())
    with build_lock:  # one build per tenant at a time; others wait for it
        with _lock:
            cached = _cache.get(tenant.pk)
        if cached is not None and cached.generation == current:
            return cached
        index = _build(tenant, current)
        with _lock:
            _cache[tenant.pk] = index
            _cache.move_to_end(tenant.pk)
            while len(_cache) > MAX_TENANTS:
                _cache.popitem(last=False)
        return index
