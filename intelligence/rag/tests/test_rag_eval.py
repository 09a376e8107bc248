"""`manage.py rag_eval` on a small BEIR-layout set: the interface, the metrics, the clean-up."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from circuits.tenancy.models.tenants import Tenant
from intelligence.rag.eval.metrics import mrr_at, ndcg_at, recall_at
from intelligence.rag.models import Document

pytestmark = pytest.mark.django_db

CORPUS = [
    {"_id": "d1", "title": "Refunds", "text": "Customers get their money back within 30 days of purchase."},
    {"_id": "d2", "title": "Shipping", "text": "Parcels leave Rotterdam every weekday and reach EU addresses in four days."},
    {"_id": "d3", "title": "Part ZX-4471-Q", "text": "The ZX-4471-Q torque sensor reads up to 400 Nm."},
    {"_id": "d4", "title": "Security", "text": "Report a lost badge to the security desk within one hour."},
]
QUERIES = [
    {"_id": "q1", "text": "how do I get a refund"},
    {"_id": "q2", "text": "ZX-4471-Q range"},
    {"_id": "q3", "text": "lost badge"},
    {"_id": "q4", "text": "unlabelled"},
]


def write_set(directory, qrels_name="qrels.tsv"):
    (directory / "corpus.jsonl").write_text("\n".join(json.dumps(row) for row in CORPUS))
    (directory / "queries.jsonl").write_text("\n".join(json.dumps(row) for row in QUERIES))
    qrels = directory / qrels_name
    qrels.parent.mkdir(exist_ok=True)
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\nq3\td4\t1\n")


def test_rag_eval_prints_every_metric_for_every_mode_as_json_and_leaves_nothing_behind(tmp_path, world):
    write_set(tmp_path)
    tenants_before = Tenant.objects.count()
    out = io.StringIO()
    call_command("rag_eval", "--dataset", str(tmp_path), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert set(report["modes"]) == {"dense", "sparse", "hybrid", "auto"}
    for row in report["modes"].values():
        assert set(row) == {"ndcg@10", "recall@10", "recall@100", "mrr@10", "p50_ms", "p95_ms"}
        assert 0.0 <= row["ndcg@10"] <= 1.0 and row["p95_ms"] >= row["p50_ms"] >= 0
    assert report["modes"]["hybrid"]["recall@10"] == 1.0 and report["modes"]["auto"]["ndcg@10"] >= 0.9
    assert report["dataset"]["queries"] == 3 and report["dataset"]["documents"] == 4  # q4 has no qrels
    assert Tenant.objects.count() == tenants_before and not Document.objects.exists()


def test_rag_eval_reads_qrels_test_tsv_and_prints_a_table(tmp_path, world):
    write_set(tmp_path, "qrels/test.tsv")
    out = io.StringIO()
    call_command("rag_eval", "--dataset", str(tmp_path), stdout=out)
    text = out.getvalue()
    assert "nDCG@10" in text and all(f"\n{mode} " in text for mode in ("dense", "sparse", "hybrid", "auto"))


def test_rag_eval_says_what_is_missing(tmp_path):
    with pytest.raises(CommandError, match="not a directory"):
        call_command("rag_eval", "--dataset", str(tmp_path / "nope"))
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n')
    with pytest.raises(CommandError, match="qrels"):
        call_command("rag_eval", "--dataset", str(tmp_path))
    (tmp_path / "corpus.jsonl").write_text("not json\n")
    (tmp_path / "qrels.tsv").write_text("q1\td1\t1\n")
    with pytest.raises(CommandError, match=r"corpus\.jsonl:1: not JSON"):
        call_command("rag_eval", "--dataset", str(tmp_path))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("corpus.jsonl", b'{"_id": "d1", "text": "caf\xe9"}\n', r"corpus\.jsonl:1: not UTF-8 text"),
        ("qrels.tsv", b"q1\td1\t1\nq2\td3\thigh\n", r"qrels\.tsv:2: the score 'high' is not a number"),
        ("qrels.tsv", b"q1\td1\tnan\n", r"qrels\.tsv:1: the score 'nan' is not a number"),
        ("qrels.tsv", b"q1\td1\n", r"qrels\.tsv:1: each line needs query-id, corpus-id and score"),
        ("corpus.jsonl", b'{"_id": "d1", "text": "x", "metadata": "recent"}\n', r"corpus\.jsonl:1: metadata must be an object"),
        ("queries.jsonl", b'{"_id": "q1", "text": "refund", "metadata": [1]}\n', r"queries\.jsonl:1: metadata must be an object"),
        ("queries.jsonl", b'{"_id": "q1", "text": "  "}\n', "query q1 needs a text of 1 to 1000 characters"),
        ("corpus.jsonl", b'{"_id": "d1", "text": "x", "metadata": {"published_at": "2025-02-30"}}\n', "published_at '2025-02-30' is not an ISO 8601 date"),
        ("corpus.jsonl", b'{"_id": "d1", "text": "x", "metadata": {"authority": "high"}}\n', "document d1: Authority is a number from 0 to 1"),
        ("corpus.jsonl", b'{"_id": "d1", "text": ""}\n', "document d1: d1 is empty"),
    ],
)
def test_a_malformed_dataset_is_a_command_error_naming_the_file_and_line_and_leaves_no_tenant(tmp_path, world, name, content, message):
    write_set(tmp_path)
    (tmp_path / name).write_bytes(content)
    tenants_before = Tenant.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("rag_eval", "--dataset", str(tmp_path), stdout=io.StringIO())
    assert Tenant.objects.count() == tenants_before and not Document.objects.exists()


def test_the_metrics_match_hand_computed_values():
    relevant = {"a": 1}
    assert ndcg_at(["a", "b"], relevant) == 1.0
    assert ndcg_at(["b", "a"], relevant) == pytest.approx(1 / 1.5849625, abs=1e-6)
    assert recall_at(["b", "c"], relevant, 10) == 0.0 and recall_at(["b", "a"], relevant, 10) == 1.0
    assert mrr_at(["b", "c", "a"], relevant) == pytest.approx(1 / 3)
