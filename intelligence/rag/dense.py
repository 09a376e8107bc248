"""The dense side: cosine similarity between the query's vector and each chunk's.

PostgreSQL: pgvector's HNSW index (cosine, m 16, ef_construction 64). A tenant filter on an
HNSW scan returns too few rows unless the scan goes on past the first candidates, so each
query runs with `SET LOCAL hnsw.ef_search` (RAG_HNSW_EF_SEARCH, 200) and
`hnsw.iterative_scan = relaxed_order` (measured at 100k vectors: recall@10 0.96 instead of
0.20; bench/rag.py measures ef_search 100 against 200); relaxed order means the rows
come back nearly sorted, so they are sorted again here. A tenant with fewer vectors than
RAG_EXACT_SCAN_BELOW is scanned exactly (no index: every vector compared).

SQLite: the tenant's vectors are loaded once into a float32 matrix (per process, refreshed
when chunks or embeddings change) and compared exactly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet, Value
from pgvector.django import CosineDistance

from intelligence.rag.models import Chunk, CorpusVersion

MAX_TENANTS = 16


def search_postgres(chunks: QuerySet, query_vector: np.ndarray, k: int, *, exact: bool) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) of the `k` nearest chunks in `chunks` (already scoped)."""
    distance = CosineDistance("embedding", query_vector.tolist())
    if exact:
        # `+ 0` makes the ordering an expression the HNSW index cannot serve: an exact scan.
        ordered = chunks.annotate(distance=distance + Value(0.0)).order_by("distance")
        return [(pk, 1.0 - d) for pk, d in ordered.values_list("id", "distance")[:k]]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [int(settings.RAG_HNSW_EF_SEARCH)])
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        rows = list(chunks.annotate(distance=distance).order_by("distance").values_list("id", "distance")[:k])
    rows.sort(key=lambda row: row[1])
    return [(pk, 1.0 - d) for pk, d in rows]


@dataclass
class VectorMatrix:
    generation: tuple
    chunk_ids: np.ndarray
    document_ids: np.ndarray
    vectors: np.ndarray  # (n, 384) float32, unit rows

    def search(self, query_vector: np.ndarray, k: int, allowed_documents: set[int] | None = None) -> list[tuple[int, float]]:
        if not len(self.chunk_ids) or k <= 0:
            return []
        scores = self.vectors @ query_vector.astype(np.float32)
        if allowed_documents is not None:
            scores = np.where(np.isin(self.document_ids, np.fromiter(allowed_documents, dtype=np.int64)), scores, -np.inf)
        k = min(k, int(np.isfinite(scores).sum()))
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.chunk_ids[i]), float(scores[i])) for i in top]


_cache: OrderedDict[int, VectorMatrix] = OrderedDict()
_lock = threading.Lock()


def matrix_for(tenant, model_id: str) -> VectorMatrix:
    chunks = Chunk.objects.for_tenant(tenant)
    current = (CorpusVersion.of(tenant.pk)[1], model_id)
    with _lock:
        cached = _cache.get(tenant.pk)
        if cached is not None and cached.generation == current:
            _cache.move_to_end(tenant.pk)
            return cached
    rows = list(chunks.filter(embedding_model=model_id).order_by("id").values_list("id", "document_id", "embedding"))
    vectors = np.stack([np.asarray(r[2], dtype=np.float32) for r in rows]) if rows else np.zeros((0, 384), dtype=np.float32)
    matrix = VectorMatrix(current, np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64), vectors)
    with _lock:
        _cache[tenant.pk] = matrix
        while len(_cache) > MAX_TENANTS:
            _cache.popitem(last=False)
    return matrix


def dense_search(
    tenant, query_vector: np.ndarray, k: int, model_id: str, *, documents: QuerySet | None, allowed: set[int] | None, size: int
) -> list[tuple[int, float]]:
    """The dense candidates for one query. `documents` (PostgreSQL) / `allowed` (in process)
    restrict to the filtered documents; `size` is the tenant's chunk count."""
    if connection.vendor == "postgresql":
        chunks = Chunk.objects.for_tenant(tenant).filter(embedding_model=model_id)
        if documents is not None:
            chunks = chunks.filter(document__in=documents)
        return search_postgres(chunks, query_vector, k, exact=size < settings.RAG_EXACT_SCAN_BELOW)
    return matrix_for(tenant, model_id).search(query_vector, k, allowed)
