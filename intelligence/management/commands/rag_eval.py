"""`manage.py rag_eval --dataset DIR [--json]`: retrieval quality and latency on a BEIR-layout set.

DIR holds corpus.jsonl (`_id`, `title`, `text`; optional `metadata` with `published_at`,
`tags`, `authority`), queries.jsonl (`_id`, `text`) and qrels.tsv or qrels/test.tsv
(`query-id`, `corpus-id`, `score`). The corpus is ingested into a throwaway tenant through
the real ingestion path (parse, chunk, embed), every query runs in every mode, a document
counts at the rank of its best chunk, and the tenant is deleted afterwards.
"""

from __future__ import annotations

import csv
import json
import math
import time
import uuid
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings
from django.utils.dateparse import parse_datetime

from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.tenancy.roles import Role
from intelligence.rag.embeddings import _query_vector
from intelligence.rag.eval.metrics import bootstrap_delta, mrr_at, ndcg_at, percentile, recall_at
from intelligence.rag.ingest import IngestDocument
from intelligence.rag.search import MAX_QUERY_CHARS, MODES, search
from intelligence.rag.tasks import collected_embedding

MAX_CHUNKS_PER_QUERY = 100


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise CommandError(f"{path} is missing")
    rows = []
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "_id" not in row:
            raise CommandError(f"{path}:{number}: each line needs an object with an _id")
        if not isinstance(row.get("metadata") or {}, dict):
            raise CommandError(f"{path}:{number}: metadata must be an object")
        rows.append(row)
    return rows


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise CommandError(f"{path}:{line}: not UTF-8 text (invalid byte at position {exc.start})") from None


def _score(value: str, where: str) -> int:
    try:
        score = float(value)
    except ValueError:
        score = math.nan
    if not math.isfinite(score):
        raise CommandError(f"{where}: the score {value!r} is not a number")
    return int(score)


def load_dataset(directory: Path) -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]], dict[str, str]]:
    if not directory.is_dir():
        raise CommandError(f"{directory} is not a directory")
    corpus = _jsonl(directory / "corpus.jsonl")
    rows = _jsonl(directory / "queries.jsonl")
    queries = {str(q["_id"]): str(q.get("text", "")) for q in rows}
    kinds = {str(q["_id"]): str((q.get("metadata") or {}).get("kind", "")) for q in rows}
    qrels_path = next((p for p in (directory / "qrels.tsv", directory / "qrels" / "test.tsv") if p.is_file()), None)
    if qrels_path is None:
        raise CommandError(f"{directory} has neither qrels.tsv nor qrels/test.tsv")
    qrels: dict[str, dict[str, int]] = {}
    for number, row in enumerate(csv.reader(_lines(qrels_path), delimiter="\t"), start=1):
        if not row or row[0] == "query-id":
            continue
        if len(row) < 3:
            raise CommandError(f"{qrels_path}:{number}: each line needs query-id, corpus-id and score")
        qrels.setdefault(row[0], {})[row[1]] = _score(row[2], f"{qrels_path}:{number}")
    qrels = {q: rel for q, rel in qrels.items() if q in queries and any(g > 0 for g in rel.values())}
    if not qrels:
        raise CommandError("no query in queries.jsonl has a relevant document in the qrels")
    for query_id in qrels:  # before anything is ingested: search() would refuse these
        text = queries[query_id].strip()
        if not text or len(text) > MAX_QUERY_CHARS:
            raise CommandError(f"queries.jsonl: query {query_id} needs a text of 1 to {MAX_QUERY_CHARS} characters")
    return corpus, queries, qrels, kinds


def ingest_corpus(tenant, actor, corpus: list[dict]) -> dict[str, Any]:
    started = time.perf_counter()
    chunks = 0
    with override_settings(RAG_EMBED_INLINE=True), collected_embedding():
        for row in corpus:
            meta = row.get("metadata") or {}
            published = _when(meta.get("published_at"))
            title = str(row.get("title") or "")
            text = str(row.get("text") or "")
            try:
                result = IngestDocument.from_text(
                    tenant,
                    actor,
                    text=f"{title}\n\n{text}" if title else text,
                    source=str(row["_id"]),
                    markdown=False,
                    title=title[:300],
                    tags=meta.get("tags"),
                    authority=meta.get("authority"),
                    published_at=published,
                ).execute()
            except ValidationError as exc:
                raise CommandError(f"document {row['_id']}: {exc.messages[0]}") from None
            chunks += result.document.chunk_count
    seconds = time.perf_counter() - started
    rate = round(chunks / seconds, 1) if seconds else None
    return {"documents": len(corpus), "chunks": chunks, "ingest_seconds": round(seconds, 2), "chunks_per_second": rate}


def _when(value: Any):
    if not value:
        return None
    try:
        parsed = parse_datetime(str(value) + ("T00:00:00+00:00" if len(str(value)) == 10 else ""))
    except ValueError:  # well formed but no such day (2025-02-30)
        parsed = None
    if parsed is None:
        raise CommandError(f"published_at {value!r} is not an ISO 8601 date")
    return parsed


def ranked_documents(response: dict) -> list[str]:
    seen: list[str] = []
    for result in response["results"]:
        if result["source"] not in seen:
            seen.append(result["source"])
    return seen


def evaluate(tenant, queries: dict[str, str], qrels: dict[str, dict[str, int]], kinds: dict[str, str] | None = None, modes=MODES) -> dict[str, Any]:
    report: dict[str, Any] = {}
    per_query: dict[str, list[float]] = {}
    for query_id in qrels:  # warm the caches (BM25 index, model) outside the timings
        search(tenant, queries[query_id], k=1, mode="hybrid")
        break
    for mode in modes:
        _query_vector.cache_clear()  # every mode's latency includes embedding its queries
        ndcg, r10, r100, mrr, latency = [], [], [], [], []
        for query_id, relevant in qrels.items():
            started = time.perf_counter()
            response = search(tenant, queries[query_id], k=MAX_CHUNKS_PER_QUERY, mode=mode, candidates=200)
            latency.append((time.perf_counter() - started) * 1000)
            ranked = ranked_documents(response)
            ndcg.append(ndcg_at(ranked, relevant, 10))
            r10.append(recall_at(ranked, relevant, 10))
            r100.append(recall_at(ranked, relevant, 100))
            mrr.append(mrr_at(ranked, relevant, 10))
        per_query[mode] = ndcg
        n = len(ndcg)
        report[mode] = {
            "ndcg@10": round(sum(ndcg) / n, 4),
            "recall@10": round(sum(r10) / n, 4),
            "recall@100": round(sum(r100) / n, 4),
            "mrr@10": round(sum(mrr) / n, 4),
            "p50_ms": round(percentile(latency, 0.5), 2),
            "p95_ms": round(percentile(latency, 0.95), 2),
        }
    comparisons = {}
    for best in ("auto", "hybrid"):
        for base in ("dense", "sparse"):
            if best in per_query and base in per_query:
                delta, low, high = bootstrap_delta(per_query[best], per_query[base])
                comparisons[f"{best}-{base}"] = {"ndcg@10_delta": round(delta, 4), "ci95": [round(low, 4), round(high, 4)]}
    by_kind: dict[str, dict[str, float]] = {}
    ids = list(qrels)
    for kind in sorted({(kinds or {}).get(q, "") for q in ids} - {""}):
        picked = [i for i, q in enumerate(ids) if kinds.get(q) == kind]
        by_kind[kind] = {"queries": len(picked), **{mode: round(sum(per_query[mode][i] for i in picked) / len(picked), 4) for mode in per_query}}
    return {"modes": report, "comparisons": comparisons, "kinds": by_kind}


class Command(BaseCommand):
    help = "Measure retrieval (nDCG@10, recall@10/100, MRR@10, latency) in every mode on a BEIR-layout dataset."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dataset", required=True, type=Path, help="A directory with corpus.jsonl, queries.jsonl and qrels.tsv (or qrels/test.tsv).")
        parser.add_argument("--json", action="store_true", help='Print {"modes": {mode: {metric: value}}} as JSON.')

    def handle(self, *args, dataset: Path, json: bool = False, **options) -> None:
        corpus, queries, qrels, kinds = load_dataset(dataset)
        suffix = uuid.uuid4().hex[:10]
        tenant = Tenant.objects.create(name=f"rag_eval {suffix}", slug=f"rag-eval-{suffix}")
        user = None
        try:  # from here on the throwaway tenant (and its user) go, whatever happens
            user = get_user_model().objects.create_user(username=f"rag-eval-{suffix}", password=None)
            Membership.objects.create(user=user, tenant=tenant, role=Role.EDITOR)
            ingestion = ingest_corpus(tenant, user, corpus)
            result = evaluate(tenant, queries, qrels, kinds)
        finally:
            tenant.delete()
            if user is not None:
                user.delete()
        result["dataset"] = {"path": str(dataset), "queries": len(qrels), **ingestion}
        if json:
            self.stdout.write(_json_dumps(result))
            return
        self.stdout.write(f"{dataset}: {ingestion['documents']} documents → {ingestion['chunks']} chunks in {ingestion['ingest_seconds']} s "
                          f"({ingestion['chunks_per_second']} chunks/s), {len(qrels)} queries")  # fmt: skip
        self.stdout.write(f"{'mode':<8} {'nDCG@10':>8} {'R@10':>6} {'R@100':>6} {'MRR@10':>7} {'p50 ms':>7} {'p95 ms':>7}")
        for mode, row in result["modes"].items():
            quality = f"{row['ndcg@10']:>8.3f} {row['recall@10']:>6.3f} {row['recall@100']:>6.3f} {row['mrr@10']:>7.3f}"
            self.stdout.write(f"{mode:<8} {quality} {row['p50_ms']:>7.1f} {row['p95_ms']:>7.1f}")
        if result["kinds"]:
            self.stdout.write("nDCG@10 by kind of query: " + "; ".join(
                f"{kind} ({row['queries']}): " + ", ".join(f"{m} {row[m]:.3f}" for m in MODES if m in row) for kind, row in result["kinds"].items()
            ))  # fmt: skip
        for name, row in result["comparisons"].items():
            low, high = row["ci95"]
            self.stdout.write(f"{name}: nDCG@10 {row['ndcg@10_delta']:+.3f} (95 % CI {low:+.3f} … {high:+.3f})")


def _json_dumps(value: Any) -> str:
    return json.dumps(value, indent=2)
