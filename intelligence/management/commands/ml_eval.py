"""`manage.py ml_eval --csv FILE --target COLUMN --positive VALUE [--json]`: AutoML on a labelled table.

The rows become records of a custom object type in a throwaway tenant; training runs through
the real path (dataset from records, encoder, candidates by stratified CV, calibration, skops
artifact) with a stratified 25 % held out (seed 0) that neither training nor selection sees.
Prints the chosen candidate, every candidate's CV ROC AUC, the held-out ROC AUC, PR AUC and
Brier score, and the targets: training time, prediction latency, calibration error (ECE), and
the gap to the best family refitted by hand. The tenant is deleted afterwards.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from pathlib import Path

import numpy as np
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from sklearn.metrics import roc_auc_score

from circuits.records.models import Record
from circuits.tenancy.models.tenants import Tenant
from intelligence.ml import automl, csvload, scoring, training
from intelligence.ml.dataset import encode, labelled
from intelligence.ml.models import ModelVersion, SplitMode, VersionStatus
from intelligence.ml.services import CreateDefinition

TARGETS = {"train_seconds": 60.0, "predict_ms": 20.0, "ece": 0.05, "gap_to_best_family": 0.01}


def _family_test_aucs(version: ModelVersion, tenant) -> dict[str, float]:
    """Each family's best CV candidate refitted on the training rows, scored on the held-out rows."""
    holdout = set(version.holdout)
    rows = labelled(tenant, version.definition)
    train = [r for r in rows if r[0] not in holdout]
    test = [r for r in rows if r[0] in holdout]
    X_train = encode(version.encoder, [r[1] for r in train], [r[2] for r in train])
    X_test = encode(version.encoder, [r[1] for r in test], [r[2] for r in test])
    y_train = np.array([int(r[3]) for r in train])
    y_test = np.array([int(r[3]) for r in test])
    out = {}
    for family in automl.FAMILIES:
        done = [c for c in version.candidates if c["family"] == family and c["status"] == "done"]
        if not done:
            continue
        best = max(done, key=lambda c: c["cv_roc_auc"])
        model = automl.make_pipeline(family, best["params"]).fit(X_train, y_train)
        out[family] = round(float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])), 4)
    return out


class Command(BaseCommand):
    help = "Train and evaluate a model on a labelled CSV through the real path; prints the candidates, held-out metrics and targets."

    def add_arguments(self, parser):
        parser.add_argument("--csv", required=True, type=Path, help="The labelled table (header row).")
        parser.add_argument("--target", required=True, help="The label column.")
        parser.add_argument("--positive", required=True, help="The label column's positive value.")
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

    def handle(self, *args, **options):
        path = Path(options["csv"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        tenant = Tenant.objects.create(name="ml_eval (throwaway)", slug=f"ml-eval-{uuid.uuid4().hex[:12]}")
        try:
            report = self.evaluate(tenant, path, options["target"], options["positive"])
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        finally:
            tenant.delete()
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(self.table(report))

    def evaluate(self, tenant, path: Path, target: str, positive: str) -> dict:
        headers, rows = csvload.read(path)
        label_field, loaded, skipped = csvload.load_records(tenant, "eval_row", headers, rows, target)
        definition = CreateDefinition(
            tenant, None, name="eval", object_type="eval_row", label_field=label_field, positive_value=positive,
            split=SplitMode.RANDOM, min_labels=20, min_positives=5, retrain_every_hours=0,
        ).execute()  # fmt: skip
        version = training.new_version(definition)
        started = time.monotonic()
        version = training.train(tenant.pk, version.pk)
        train_seconds = time.monotonic() - started
        if version.status != VersionStatus.READY:
            raise CommandError(version.message)
        families = _family_test_aucs(version, tenant)
        record = Record.objects.for_tenant(tenant).filter(pk=version.holdout[0]).first()
        version = ModelVersion.objects.get(pk=version.pk)
        timings, explained = [], []
        for _ in range(50):
            t0 = time.perf_counter()
            scoring.score_one(version, record.data, record.created_at, with_explanation=False)
            timings.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            scoring.score_one(version, record.data, record.created_at)
            explained.append((time.perf_counter() - t0) * 1000)
        m = version.metrics
        best_family = max(families.values()) if families else m["roc_auc"]
        figures = {
            "train_seconds": round(train_seconds, 2), "predict_ms": round(statistics.median(timings), 2),
            "predict_explained_ms": round(statistics.median(explained), 2), "ece": m["ece"], "gap_to_best_family": round(best_family - m["roc_auc"], 4),
        }  # fmt: skip
        return {
            "chosen": version.chosen,
            "candidates": {c["name"]: {"cv_roc_auc": c.get("cv_roc_auc"), "status": c["status"]} for c in version.candidates},
            "test": {"roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"], "brier": m["brier"], "ece": m["ece"], "threshold": m["threshold"],
                     "precision": m["precision"], "recall": m["recall"]},
            "rows": loaded, "skipped_rows": skipped, "train_rows": version.train_rows, "test_rows": version.test_rows, "positives": version.positives,
            "families_test_roc_auc": families,
            "targets": {name: {"value": figures[name], "target": f"< {limit}" if name != "gap_to_best_family" else f"≤ {limit}",
                               "met": figures[name] <= limit} for name, limit in TARGETS.items()},
            "predict_explained_ms": figures["predict_explained_ms"],
            "warnings": version.warnings,
        }  # fmt: skip

    def table(self, r: dict) -> str:
        lines = [
            f"{r['rows']} rows ({r['skipped_rows']} skipped): {r['train_rows']} for training and selection, "
            f"{r['test_rows']} held out (stratified 25 %, seed 0)",
            "",
        ]
        lines.append(f"{'candidate':<62} {'CV ROC AUC':>10}")
        for name, c in r["candidates"].items():
            mark = " ← chosen" if name == r["chosen"] else ""
            value = f"{c['cv_roc_auc']:.4f}" if c["cv_roc_auc"] is not None else c["status"]
            lines.append(f"{name:<62} {value:>10}{mark}")
        t = r["test"]
        lines += ["", f"held out: ROC AUC {t['roc_auc']:.4f}   PR AUC {t['pr_auc']:.4f}   Brier {t['brier']:.4f}   ECE {t['ece']:.4f}",
                  f"          threshold {t['threshold']:.3f}: precision {t['precision']:.3f}, recall {t['recall']:.3f}"]  # fmt: skip
        if r["families_test_roc_auc"]:
            lines.append("each family's best candidate refitted, held-out ROC AUC: " + ", ".join(f"{k} {v:.4f}" for k, v in r["families_test_roc_auc"].items()))
        lines += ["", f"{'target':<22} {'value':>10} {'target':>8}  met"]
        for name, x in r["targets"].items():
            lines.append(f"{name:<22} {x['value']:>10} {x['target']:>8}  {'yes' if x['met'] else 'NO'}")
        lines.append(f"(a prediction with its explanation: {r['predict_explained_ms']} ms)")
        for warning in r["warnings"]:
            lines.append(f"warning: {warning}")
        return "\n".join(lines) + "\n"
