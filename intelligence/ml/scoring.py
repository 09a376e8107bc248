"""Scoring with a trained version: its artifact loaded once per process (by checksum), records
encoded with the version's own encoder, and the explanation of one row."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

import numpy as np

from intelligence.ml import artifacts
from intelligence.ml.dataset import encode
from intelligence.ml.explain import explain
from intelligence.ml.models import ModelVersion
from intelligence.ml.threads import limited_threads

_LOADED: OrderedDict[str, dict] = OrderedDict()  # checksum → bundle; versions never change once trained
_KEEP = 16


def _load(sha256: str, data: bytes) -> dict:
    if sha256 in _LOADED:
        _LOADED.move_to_end(sha256)
        return _LOADED[sha256]
    loaded = artifacts.load(data, sha256)
    _LOADED[sha256] = loaded
    while len(_LOADED) > _KEEP:
        _LOADED.popitem(last=False)
    return loaded


def bundle(version: ModelVersion) -> dict:
    """{"model": calibrated estimator, "background": rows, "family": …}."""
    if version.artifact_sha256 in _LOADED:
        return _load(version.artifact_sha256, b"")
    if not version.artifact:
        raise ValueError(f"{version} has no artifact")
    return _load(version.artifact_sha256, bytes(version.artifact))


def family(version: ModelVersion) -> str:
    return version.encoder.get("family", "")


def scores(version: ModelVersion, rows: list[dict], created: list[datetime | None] | None = None) -> np.ndarray:
    loaded = bundle(version)
    with limited_threads():
        return loaded["model"].predict_proba(encode(version.encoder, rows, created))[:, 1]


def score_one(version: ModelVersion, data: dict, created: datetime | None = None, with_explanation: bool = True) -> tuple[float, dict | None]:
    loaded = bundle(version)
    x = encode(version.encoder, [data], [created])
    with limited_threads():
        if not with_explanation:
            return float(loaded["model"].predict_proba(x)[0, 1]), None
        explanation = explain(loaded["model"], family(version), version.encoder, x[0], loaded.get("background"))
    return explanation["score"], explanation
