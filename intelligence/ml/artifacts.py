"""Fitted estimators as skops bytes: loading never unpickles; only the types listed are built.

The artifact is written by our own training code, but it sits in the database next to tenant
data, so it is loaded as if it were untrusted: skops refuses any type outside TRUSTED.
"""

from __future__ import annotations

import hashlib
from types import ModuleType

# Exactly the types skops does not trust by default that our calibrated pipelines hold
# (automl.calibrated for every family, sigmoid or isotonic). A list of names, not of prefixes:
# "builtins." would admit eval, exec and __import__ as the function of a FunctionTransformer,
# "numpy."/"scipy." their file loaders. A test trains every family and checks this list, so
# a scikit-learn upgrade that needs a new type fails there, not in production.
TRUSTED = frozenset({
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
})  # fmt: skip


def _skops() -> ModuleType:
    # Imported on first use: skops.io imports PyTorch when it is installed (for its own
    # loaders), which would add seconds and hundreds of MB to every process's start-up.
    import skops.io

    return skops.io


def dump(estimator) -> tuple[bytes, str]:
    data = _skops().dumps(estimator)
    return data, hashlib.sha256(data).hexdigest()


def untrusted_types(data: bytes) -> list[str]:
    """The types of the artifact that skops would not build by default."""
    return list(_skops().get_untrusted_types(data=bytes(data)))


def load(data: bytes, sha256: str):
    data = bytes(data)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("the model artifact does not match its checksum")
    untrusted = untrusted_types(data)
    refused = sorted(t for t in untrusted if t not in TRUSTED)
    if refused:
        raise ValueError(f"the model artifact holds types our estimators never use: {', '.join(refused)}")
    return _skops().loads(data, trusted=untrusted)
