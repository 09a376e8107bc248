"""AutoML-lite: three model families with small grids, compared by stratified cross-validation,
time-boxed, the best refitted and calibrated, then measured once on the held-out rows.

Grids come from ML_GRIDS (settings) so tests can use tiny ones. Every candidate's out-of-fold
predictions are kept, so the decision threshold is chosen on training data (best F1), never on
the held-out split.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

if TYPE_CHECKING:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline

FAMILIES = ("logistic_regression", "hist_gradient_boosting", "random_forest")
DEFAULT_GRIDS: dict[str, dict[str, list]] = {
    "logistic_regression": {"C": [0.1, 1.0, 10.0]},
    "hist_gradient_boosting": {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [7, 15]},
    "random_forest": {"min_samples_leaf": [3, 10]},
}

# scikit-learn is imported inside the functions that fit or measure: importing it costs ~0.6 s,
# and every process imports this module at start-up (the ML steps → services → training).


def make_pipeline(family: str, params: dict, seed: int = 0) -> Pipeline:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if family == "logistic_regression":
        return Pipeline([
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(max_iter=2000, **params)),
        ])  # fmt: skip
    if family == "hist_gradient_boosting":
        return Pipeline(
            [
                (
                    "model",
                    HistGradientBoostingClassifier(**{"max_iter": 150, "l2_regularization": 1.0, "early_stopping": False, "random_state": seed, **params}),
                )
            ]
        )
    if family == "random_forest":
        return Pipeline([
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("model", RandomForestClassifier(n_estimators=settings.ML_FOREST_TREES, random_state=seed, n_jobs=settings.ML_JOBS, **params)),
        ])  # fmt: skip
    raise ValueError(f"unknown model family {family!r}")


def grids() -> dict[str, dict[str, list]]:  # settings.ML_GRIDS, else the defaults
    return getattr(settings, "ML_GRIDS", None) or DEFAULT_GRIDS


def candidate_name(family: str, params: dict) -> str:
    return family + "(" + ", ".join(f"{k}={v}" for k, v in sorted(params.items())) + ")"


@dataclass
class Result:
    candidates: list[dict]
    chosen: str
    family: str
    params: dict
    estimator: object  # the calibrated pipeline
    threshold: float
    cv_seconds: float
    oof: np.ndarray = field(repr=False, default=None)


def search(X: np.ndarray, y: np.ndarray, progress: Callable[[float, str], None] | None = None, budget: float | None = None, grid: dict | None = None) -> Result:
    """Compare every candidate by stratified CV on (X, y); refit the best and calibrate it."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    budget = settings.ML_TIME_BUDGET if budget is None else budget
    folds = max(2, min(settings.ML_CV_FOLDS, int(y.sum()), int(len(y) - y.sum())))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    splits = list(cv.split(X, y))
    plan = [(family, dict(zip(g, values, strict=True))) for family, g in (grid or grids()).items() for values in itertools.product(*g.values())]
    started = time.monotonic()
    candidates: list[dict] = []
    best: tuple[float, str, dict, np.ndarray] | None = None
    for index, (family, params) in enumerate(plan):
        name = candidate_name(family, params)
        # Time box: once the budget is spent, only each family's first candidate still runs,
        # so all three families are always compared.
        seen = {c["family"] for c in candidates if c["status"] == "done"}
        if time.monotonic() - started > budget and family in seen:
            candidates.append({"name": name, "family": family, "params": params, "status": "skipped", "reason": "time box reached"})
            continue
        t0 = time.monotonic()
        oof = np.zeros(len(y))
        scores = []
        for train_idx, test_idx in splits:
            model = make_pipeline(family, params).fit(X[train_idx], y[train_idx])
            oof[test_idx] = model.predict_proba(X[test_idx])[:, 1]
            scores.append(roc_auc_score(y[test_idx], oof[test_idx]))
        score = float(np.mean(scores))
        candidates.append({
            "name": name, "family": family, "params": params, "status": "done",
            "cv_roc_auc": round(score, 4), "cv_std": round(float(np.std(scores)), 4), "seconds": round(time.monotonic() - t0, 2),
        })  # fmt: skip
        if best is None or score > best[0]:
            best = (score, family, params, oof)
        if progress:
            progress(0.1 + 0.7 * (index + 1) / len(plan), f"cross-validated {name}: ROC AUC {score:.3f}")
    cv_seconds = time.monotonic() - started
    score, family, params, oof = best
    for c in candidates:
        c["chosen"] = c["name"] == candidate_name(family, params)
    if progress:
        progress(0.85, f"calibrating {candidate_name(family, params)}")
    estimator = calibrated(family, params, X, y, folds)
    return Result(candidates, candidate_name(family, params), family, params, estimator, best_threshold(y, oof), cv_seconds, oof)


def calibrated(family: str, params: dict, X: np.ndarray, y: np.ndarray, folds: int) -> CalibratedClassifierCV:
    from sklearn.calibration import CalibratedClassifierCV

    # Sigmoid keeps a linear model linear in log-odds (exact explanations); isotonic needs
    # more rows than a small tenant has.
    method = "isotonic" if family != "logistic_regression" and len(y) >= 1000 else "sigmoid"
    model = CalibratedClassifierCV(make_pipeline(family, params), method=method, cv=min(folds, 3), ensemble=False).fit(X, y)
    calibrator = model.calibrated_classifiers_[0].calibrators[0]
    if method == "sigmoid" and calibrator.a_ >= 0 and family != "logistic_regression":
        # A sigmoid fitted on a few noisy out-of-fold scores can come out decreasing, which
        # would turn the ranking upside down; isotonic regression is increasing by construction.
        model = CalibratedClassifierCV(make_pipeline(family, params), method="isotonic", cv=min(folds, 3), ensemble=False).fit(X, y)
    return model


def best_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    best, threshold = -1.0, 0.5
    for t in np.unique(np.round(scores, 3)):
        predicted = scores >= t
        tp = float((predicted & (y == 1)).sum())
        f1 = 2 * tp / (predicted.sum() + y.sum()) if predicted.sum() + y.sum() else 0.0
        if f1 > best:
            best, threshold = f1, float(t)
    return threshold


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-width bins."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def _points(xs, ys, keep: int = 60) -> list[list[float]]:
    step = max(1, len(xs) // keep)
    chosen = list(range(0, len(xs), step))
    if chosen[-1] != len(xs) - 1:
        chosen.append(len(xs) - 1)
    return [[round(float(xs[i]), 4), round(float(ys[i]), 4)] for i in chosen]


def metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    """Held-out metrics and the curves the Models page draws."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_fscore_support, roc_auc_score, roc_curve

    if len(set(y.tolist())) < 2:
        raise ValueError("the held-out rows need both outcomes")
    fpr, tpr, _ = roc_curve(y, p)
    true_rate, mean_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    precision, recall, _, _ = precision_recall_fscore_support(y, (p >= threshold).astype(int), average="binary", zero_division=0)
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "ece": round(ece(y, p), 4),
        "threshold": round(threshold, 4),
        "precision": round(float(precision), 4),
        "recall": round(float(recall), 4),
        "positive_rate": round(float(y.mean()), 4),
        "roc_curve": _points(fpr, tpr),
        "calibration_curve": [[round(float(a), 4), round(float(b), 4)] for a, b in zip(mean_pred, true_rate, strict=True)],
    }


def bootstrap_difference(y: np.ndarray, new: np.ndarray, old: np.ndarray, draws: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """ROC AUC of `new` minus `old` on the same rows: the difference and its 95 % bootstrap interval."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    diffs = []
    n = len(y)
    for _ in range(draws):
        idx = rng.integers(0, n, n)
        if y[idx].min() == y[idx].max():
            continue
        diffs.append(roc_auc_score(y[idx], new[idx]) - roc_auc_score(y[idx], old[idx]))
    low, high = np.percentile(diffs, [2.5, 97.5]) if diffs else (0.0, 0.0)
    return float(roc_auc_score(y, new) - roc_auc_score(y, old)), float(low), float(high)


def clone_estimator(estimator):
    from sklearn.base import clone

    return clone(estimator)
