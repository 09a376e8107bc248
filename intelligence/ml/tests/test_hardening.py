"""Attacks on the models as a stranger or a malicious tenant would try them, each pinned by a test."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from intelligence.ml import artifacts, automl

pytestmark = pytest.mark.django_db


def test_an_artifact_whose_estimator_calls_a_builtin_function_is_refused():
    # builtins.eval as a FunctionTransformer's function: predict_proba would call it on the input.
    data, sha = artifacts.dump({"model": Pipeline([("f", FunctionTransformer(func=eval))])})
    assert "builtins.eval" in sio.get_untrusted_types(data=data)
    with pytest.raises(ValueError, match=r"builtins\.eval"):
        artifacts.load(data, sha)


def test_every_family_calibrated_either_way_loads_with_only_the_trusted_types():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    X[::7, 1] = np.nan
    y = (X[:, 0] + rng.normal(size=120) > 0).astype(int)
    for family, params in [("logistic_regression", {"C": 1.0}), ("hist_gradient_boosting", {"max_iter": 10}), ("random_forest", {"min_samples_leaf": 3})]:
        for method in ("sigmoid", "isotonic"):
            model = CalibratedClassifierCV(automl.make_pipeline(family, params), method=method, cv=2, ensemble=False).fit(X, y)
            data, sha = artifacts.dump({"model": model, "background": X[:3]})
            assert set(artifacts.untrusted_types(data)) <= artifacts.TRUSTED, (family, method)
            assert artifacts.load(data, sha)["model"].predict_proba(X[:2]).shape == (2, 2)
