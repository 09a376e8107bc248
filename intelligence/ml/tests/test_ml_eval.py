"""`manage.py ml_eval`: the interface the issue fixes, on a small table from the shipped generator."""

from __future__ import annotations

import io
import json
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
