"""Retrieval at scale: query latency and vector recall with many chunks in one tenant among ten.

`python -m bench rag` (RAG_BENCH_CHUNKS, default 100,000, in the busiest tenant; nine others get
a tenth each). Vectors at this scale are not made by the model — embedding 100k passages takes
over an hour on 2 cores — but unit vectors from a 32-dimensional latent space mapped into 384
dimensions plus noise (so distances are graded and neighbours meaningful, as with real
embeddings), and each chunk's text is drawn from one of 2,000 topics' words. The HNSW index is
dropped while rows are bulk-inserted and built once afterwards, as one would load a big tenant. Reported:
query latency p50/p95 per mode, recall@10 of the HNSW path against the exact scan, and the
ingestion rate of real documents through the model (chunks/s on this machine).
"""

from __future__ import annotations

import importlib
import os
import random
import time

import numpy as np

from bench.common import bench_world, heading, report

HNSW = importlib.import_module("intelligence.migrations.0002_documents").HNSW
TOPICS = 2000
WORDS = [f"w{i}" for i in range(20_000)]


LATENT = 32


def _vectors(mixing: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.normal(size=(n, LATENT)).astype(np.float32) @ mixing + 0.3 * rng.normal(size=(n, 384)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _populate(tenant, count: int, rng: np.random.Generator, mixing: np.ndarray) -> None:
    from intelligence.rag.embeddings import configured_model_id
    from intelligence.rag.models import Chunk, Document

    topic_words = [random.Random(t).sample(WORDS, 30) for t in range(TOPICS)]
    model_id = configured_model_id()
    per_doc = 5
    for start in range(0, count, 5000):
        n = min(5000, count - start)
        docs = Document.objects.bulk_create(
            Document(
                tenant=tenant, title=f"doc {start + i}", source=f"bench-{tenant.pk}-{start + i}", source_type="text", text="-", content_hash="-", status="ready"
            )
            for i in range(0, n, per_doc)
        )
        topics = rng.integers(0, TOPICS, size=n)
        vectors = _vectors(mixing, n, rng)
        chunks = []
        for i in range(n):
            words = random.Random(start + i).choices(topic_words[topics[i]], k=40)
            chunks.append(Chunk(tenant=tenant, document=docs[i // per_doc], ordinal=i % per_doc, text=" ".join(words), start=0, end=1,
                                embedding=vectors[i], embedding_model=model_id))  # fmt: skip
        Chunk.objects.bulk_create(chunks, batch_size=1000)


def ingestion_rate(tenant) -> None:
    """Real documents through the real ingestion path and the model: the repo's knowledge base
    bound into Markdown handbooks (sections of twelve passages, eight sections a book, four
    editions of each), so chunks come out as the chunker cuts long text at its default size —
    not one short passage per document as in rag_eval. Ingested one by one, the embedding done
    in process by the code a Celery worker runs (vectors.embed_chunks, RAG_EMBED_BATCH ids a call)."""
    import json
    from pathlib import Path

    from django.conf import settings
    from django.test.utils import override_settings

    from intelligence.rag.ingest import IngestDocument
    from intelligence.rag.models import Chunk, Document, DocumentStatus

    corpus = Path(__file__).resolve().parent.parent / "intelligence" / "rag" / "eval" / "acme-kb" / "corpus.jsonl"
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    sections = [f"## {rows[i]['title']}\n\n" + " ".join(row["text"] for row in rows[i : i + 12]) for i in range(0, len(rows), 12)]
    books = [f"# Handbook {i // 8}\n\n" + "\n\n".join(sections[i : i + 8]) for i in range(0, len(sections), 8)] * 4
    actor = tenant.memberships.first().user
    for document in Document.objects.for_tenant(tenant).filter(source__startswith="handbook-"):
        document.delete()  # a re-run (RAG_BENCH_KEEP) starts without them
    with override_settings(RAG_EMBED_INLINE=True):
        IngestDocument.from_text(tenant, actor, text=books[0], source="warm-up").execute()  # loads the model
        started = time.perf_counter()
        for i, text in enumerate(books):
            IngestDocument.from_text(tenant, actor, text=f"{text}\n\nEdition {i}.", source=f"handbook-{i}").execute()
        seconds = time.perf_counter() - started
    chunks = Chunk.objects.for_tenant(tenant).filter(document__source__startswith="handbook-", embedding__isnull=False)
    count = chunks.count()
    size = sum(len(t) for t in chunks.values_list("text", flat=True)) / max(count, 1)
    print(f"ingestion in process: {len(books)} documents, {count} chunks (mean {size:.0f} characters) in {seconds:.1f} s: "
          f"{count / seconds:.1f} chunks/s (target ≥ 40)")  # fmt: skip
    if settings.CELERY_EMBEDDED:
        return
    # The production shape: the web process stores the chunks, a Celery worker (2 processes)
    # embeds them; timed from the first upload until every document is ready.
    from bench.queue import start_worker

    worker = start_worker()
    try:
        time.sleep(5)  # the worker starts and loads the model before the clock runs
        started = time.perf_counter()
        for i, text in enumerate(books):
            IngestDocument.from_text(tenant, actor, text=f"{text}\n\nSecond edition {i}.", source=f"handbook-{i}").execute()
        pending = Document.objects.for_tenant(tenant).filter(source__startswith="handbook-").exclude(status=DocumentStatus.READY)
        deadline = time.monotonic() + 600
        while pending.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    count = Chunk.objects.for_tenant(tenant).filter(document__source__startswith="handbook-", embedding__isnull=False).count()
    print(f"ingestion through a Celery worker (-c 2): {count} chunks in {seconds:.1f} s: {count / seconds:.1f} chunks/s (target ≥ 40)")


def main() -> None:
    from django.conf import settings
    from django.db import connection

    from intelligence.rag import dense
    from intelligence.rag.embeddings import _query_vector, configured_model_id
    from intelligence.rag.models import Chunk, CorpusVersion
    from intelligence.rag.search import search

    count = int(os.environ.get("RAG_BENCH_CHUNKS", "100000"))
    # RAG_BENCH_KEEP=1 keeps the ten tenants afterwards and re-uses them on the next run (the
    # load and the index build take minutes), e.g. to compare settings.
    keep = os.environ.get("RAG_BENCH_KEEP") == "1"
    heading(f"rag: {count:,} chunks in one tenant among ten ({connection.vendor})")
    rng = np.random.default_rng(7)
    mixing = rng.normal(size=(LATENT, 384)).astype(np.float32)
    tenants = [bench_world(f"rag-{i}")[0] for i in range(10)]
    postgres = connection.vendor == "postgresql"
    if not (keep and Chunk.objects.filter(tenant=tenants[0]).count() == count):
        for tenant in tenants:
            tenant.delete()
        tenants = [bench_world(f"rag-{i}")[0] for i in range(10)]
        started = time.perf_counter()
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX IF EXISTS rag_chunk_embedding_hnsw")
        _populate(tenants[0], count, rng, mixing)
        for tenant in tenants[1:]:
            _populate(tenant, count // 10, rng, mixing)
        for tenant in tenants:  # rows were bulk-inserted around the services: say the corpus changed
            CorpusVersion.bump(tenant.pk, chunks=True, vectors=True)
        print(f"populated in {time.perf_counter() - started:.0f} s")
        if postgres:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = '1GB'")
                cursor.execute(HNSW)
                cursor.execute("ANALYZE intelligence_chunk")
            print(f"HNSW index built in {time.perf_counter() - started:.0f} s")
    busy = tenants[0]
    ingestion_rate(tenants[1])
    model_id = configured_model_id()
    queries = _vectors(mixing, 60, rng)
    chunks = Chunk.objects.for_tenant(busy).filter(embedding_model=model_id)
    if connection.vendor == "postgresql":
        from django.test.utils import override_settings

        exact, exact_ms = [], []
        for q in queries:
            t0 = time.perf_counter()
            exact.append({pk for pk, _ in dense.search_postgres(chunks, q, 10, exact=True)})
            exact_ms.append((time.perf_counter() - t0) * 1000)
        report("dense exact scan, top 10", exact_ms)
        for ef_search in sorted({100, settings.RAG_HNSW_EF_SEARCH}):
            recalls, approx_ms = [], []
            with override_settings(RAG_HNSW_EF_SEARCH=ef_search):
                for q, truth in zip(queries, exact, strict=True):
                    t0 = time.perf_counter()
                    approx = {pk for pk, _ in dense.search_postgres(chunks, q, 10, exact=False)}
                    approx_ms.append((time.perf_counter() - t0) * 1000)
                    recalls.append(len(approx & truth) / 10)
            report(f"dense HNSW (iterative scan, ef_search {ef_search}), top 10", approx_ms)
            print(f"recall@10 of HNSW (ef_search {ef_search}) against exact: {sum(recalls) / len(recalls):.3f} (target ≥ 0.95)")
    words = [" ".join(random.Random(i).sample(WORDS, 3)) for i in range(60)]
    search(busy, words[0], mode="sparse")  # builds the BM25 index once
    for mode in ("sparse", "dense", "hybrid", "auto"):
        _query_vector.cache_clear()  # each mode pays for embedding its queries
        samples = []
        for text in words:
            t0 = time.perf_counter()
            search(busy, text, mode=mode)
            samples.append((time.perf_counter() - t0) * 1000)
        report(f"search, mode {mode} (model query embedding included)", samples)
    if not keep:
        for tenant in tenants:
            tenant.delete()
