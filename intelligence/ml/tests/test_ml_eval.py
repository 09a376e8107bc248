"""`manage.py ml_eval`: the interface the issue fixes, on a small table from the shipped generator."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from circuits.records.models import Record
from circuits.tenancy.models.tenants import Tenant

pytestmark = pytest.mark.django_db
GENERATOR = Path(__file__).resolve().parents[1] / "data" / "generate_crm.py"


@pytest.fixture
def table(tmp_path) -> Path:
    out = tmp_path / "leads.csv"
    subprocess.run([sys.executable, str(GENERATOR), "--rows", "400", "--out", str(out)], check=True, capture_output=True)  # noqa: S603
    return out


def test_ml_eval_prints_the_candidates_the_held_out_metrics_and_the_targets_as_json(table):
    stdout = io.StringIO()
    call_command("ml_eval", csv=str(table), target="converted", positive="yes", json=True, stdout=stdout)
    report = json.loads(stdout.getvalue())
    assert set(report) >= {"chosen", "candidates", "test", "rows"} and report["rows"] == 400
    assert report["chosen"] in report["candidates"] and all("cv_roc_auc" in c for c in report["candidates"].values())
    assert set(report["test"]) >= {"roc_auc", "pr_auc", "brier"} and 0.5 < report["test"]["roc_auc"] <= 1
    assert report["test_rows"] == 100 and report["train_rows"] == 300  # a stratified 25 % held out
    assert set(report["targets"]) == {"train_seconds", "predict_ms", "ece", "gap_to_best_family"}
    assert not Tenant.objects.filter(slug__startswith="ml-eval-").exists() and not Record.objects.exists()  # the throwaway tenant is gone


def test_ml_eval_prints_a_table_and_names_a_wrong_target(table):
    stdout = io.StringIO()
    call_command("ml_eval", csv=str(table), target="converted", positive="yes", stdout=stdout)
    text = stdout.getvalue()
    assert "CV ROC AUC" in text and "← chosen" in text and "held out: ROC AUC" in text and "predict_ms" in text
    with pytest.raises(CommandError, match="'won' is not a column; columns: industry"):
        call_command("ml_eval", csv=str(table), target="won", positive="yes", stdout=io.StringIO())


def _rows(n: int, label=lambda i: "yes" if i % 2 else "no") -> bytes:
    return b"a,won\n" + b"".join(f"{i},{label(i)}\n".encode() for i in range(n))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "has no header row"),
        (b"a,b,won\n", "has a header but no rows"),
        (b"a,won\n1,yes\n", "1 labelled records with 1 positive"),
        (_rows(40, lambda i: "yes"), "40 labelled records with 40 positive"),
        (b"a,won\n" + b"x" * 200_000 + b",yes\n", "not a readable CSV table: field larger than field limit"),
        (b"a,won\n\xe9t\xe9,yes\n", "not UTF-8 text"),
        (b"a\x00,won\n\x00,yes\n", "holds NUL bytes"),
        ((",".join(f"c{i}" for i in range(300)) + ",won\n" + "1," * 300 + "yes\n").encode(), "301 columns; a record type holds at most 200"),
        (_rows(600, lambda i: f"v{i}"), "600 distinct values; a label column has at most 500"),
        (_rows(40), "positive_value: 'maybe' is not a value won can take (no, yes)"),
    ],
    ids=["empty", "header only", "one row", "one outcome", "huge field", "latin-1", "nul bytes", "too many columns", "too many labels", "positive absent"],
)
def test_ml_eval_refuses_a_malformed_table_with_a_clear_error_and_deletes_its_throwaway_tenant(tmp_path, content, says):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=re.escape(says)):
        call_command("ml_eval", csv=str(path), target="won", positive="maybe" if "maybe" in says else "yes", stdout=io.StringIO())
    assert not Tenant.objects.filter(slug__startswith="ml-eval-").exists() and not Record.objects.exists()


def test_ml_eval_reads_a_table_that_starts_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _rows(80, lambda i: "yes" if i % 3 == 0 else "no"))
    stdout = io.StringIO()
    call_command("ml_eval", csv=str(path), target="won", positive="yes", json=True, stdout=stdout)
    assert json.loads(stdout.getvalue())["rows"] == 80
