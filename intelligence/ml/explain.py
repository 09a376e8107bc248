"""Why a score is what it is: each field's contribution, in probability points and plain words.

- Logistic regression (calibrated by a sigmoid, so still linear in log-odds): exact. The score's
  log-odds are base + Σ contributions, each column's being −a·w·z (z its standardised value, a
  the calibrator's slope); fields sum their columns, and the log-odds are spread over the
  probability change from the base score in proportion, so the contributions add up to
  score − base exactly.
- Trees: a local attribution by replacement (the permutation idea applied to one record): a
  field's contribution is the score minus the mean score when that field's columns take the
  values of each background record (a fixed sample of the training rows). Deterministic; a
  field that does not move the score gets 0. It need not add up to score − base exactly, so
  the output says `exact: false`.
"""

from __future__ import annotations

import math

import numpy as np

from intelligence.ml.dataset import describe_value

TOP = 5


def _groups(encoder: dict) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for j, column in enumerate(encoder["columns"]):
        groups.setdefault(column["field"], []).append(j)
    return groups


def _words(encoder: dict, field: str, indexes: list[int], x: np.ndarray) -> str:
    columns = [encoder["columns"][j] for j in indexes]
    kinds = {c["kind"] for c in columns}
    if kinds <= {"is"}:
        hit = [c for j, c in zip(indexes, columns, strict=True) if x[j] >= 0.5]
        return hit[0]["name"] if hit else f"{field} is missing or another value"
    if kinds <= {"word", "length"}:
        hit = [c["value"] for j, c in zip(indexes, columns, strict=True) if c["kind"] == "word" and x[j] >= 0.5]
        if hit:
            return f"{field} contains {', '.join(hit[:3])}"
        return f"{field} has none of the telling words"
    return "; ".join(describe_value(encoder["columns"][j], float(x[j])) for j in indexes)


def linear_parts(calibrated) -> tuple[object, float, float]:
    inner = calibrated.calibrated_classifiers_[0]
    calibrator = inner.calibrators[0]
    return inner.estimator, float(calibrator.a_), float(calibrator.b_)


def linear(calibrated, encoder: dict, x: np.ndarray) -> dict:
    from scipy.special import expit  # SciPy loads on first use: Django's start-up imports this module

    pipeline, a, b = linear_parts(calibrated)
    imputer, scaler, model = pipeline.named_steps["impute"], pipeline.named_steps["scale"], pipeline.named_steps["model"]
    row = x.reshape(1, -1)
    z = scaler.transform(imputer.transform(row))[0]
    weights = model.coef_[0]
    n = row.shape[1]
    source = list(range(n)) + [int(k) for k in (imputer.indicator_.features_ if imputer.indicator_ is not None else [])]
    columns = -a * weights * z
    base_logit = -a * float(model.intercept_[0]) - b
    by_column = np.zeros(n)
    for k, value in enumerate(columns):
        by_column[source[k]] += value
    score = float(calibrated.predict_proba(row)[0, 1])
    base = float(expit(base_logit))
    total_logit = base_logit + float(by_column.sum())
    spread = (score - base) / (total_logit - base_logit) if abs(total_logit - base_logit) > 1e-12 else score * (1 - score)
    fields = []
    for field, indexes in _groups(encoder).items():
        log_odds = float(by_column[indexes].sum())
        fields.append((field, indexes, log_odds * spread, log_odds))
    return _result(encoder, x, score, base, fields, exact=True, method="exact (logistic regression)")


def replacement(calibrated, encoder: dict, x: np.ndarray, background: np.ndarray) -> dict:
    row = x.reshape(1, -1)
    score = float(calibrated.predict_proba(row)[0, 1])
    base = float(calibrated.predict_proba(background)[:, 1].mean())
    groups = _groups(encoder)
    batches = []
    for indexes in groups.values():
        batch = np.repeat(row, len(background), axis=0)
        batch[:, indexes] = background[:, indexes]
        batches.append(batch)
    scores = calibrated.predict_proba(np.vstack(batches))[:, 1].reshape(len(groups), len(background)).mean(axis=1) if batches else np.array([])
    fields = [(field, indexes, score - float(s), None) for (field, indexes), s in zip(groups.items(), scores, strict=True)]
    return _result(encoder, x, score, base, fields, exact=False, method="local attribution by replacement (trees)")


def _result(encoder: dict, x: np.ndarray, score: float, base: float, fields: list, exact: bool, method: str) -> dict:
    contributions = []
    for field, indexes, value, log_odds in fields:
        item = {"field": field, "contribution": round(value, 4), "text": f"{_words(encoder, field, indexes, x)}: {value:+.2f}"}
        if log_odds is not None:
            item["log_odds"] = round(log_odds, 4)
        contributions.append(item)
    contributions.sort(key=lambda c: -abs(c["contribution"]))
    return {
        "method": method,
        "exact": exact,
        "base": round(base, 4),
        "score": round(score, 4),
        "contributions": contributions,
        "top": [c["text"] for c in contributions[:TOP]],
    }


def explain(calibrated, family: str, encoder: dict, x: np.ndarray, background: np.ndarray | None) -> dict:
    if family == "logistic_regression":
        return linear(calibrated, encoder, x)
    return replacement(calibrated, encoder, x, background)


def log_odds(p: float) -> float:
    from scipy.special import logit

    p = min(max(p, 1e-9), 1 - 1e-9)
    return float(logit(p)) if math.isfinite(p) else 0.0
