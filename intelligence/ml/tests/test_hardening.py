"""Attacks on the models as a stranger or a malicious tenant would try them, each pinned by a test."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test.utils import override_settings
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from intelligence.ml import artifacts, automl, tasks, training
from intelligence.ml.models import ModelDefinition, ModelVersion
from intelligence.ml.services import DeleteDefinition, RequestTraining
from intelligence.ml.tests.fixtures import LINEAR_ONLY, lead_model, make_leads

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


def test_two_train_requests_at_once_queue_one_run_and_refuse_the_other(world):
    make_leads(world.tenant, 80)
    definition = lead_model(world.tenant)
    first, second = RequestTraining(world.tenant, world.editor, definition), RequestTraining(world.tenant, world.editor, definition)
    first.check()
    second.check()  # both requests pass the early check before either has queued its run
    with transaction.atomic():
        first.perform()
    with pytest.raises(ValidationError, match="already training"), transaction.atomic():
        second.perform()
    assert definition.versions.count() == 1


def test_beat_skips_a_model_queued_on_demand_since_it_was_found_due(world, monkeypatch):
    make_leads(world.tenant, 80)
    definition = lead_model(world.tenant)
    due = training.due_definitions()
    assert [d.pk for d in due] == [definition.pk]
    RequestTraining(world.tenant, world.editor, definition).execute()  # a click between beat's scan and its queueing
    monkeypatch.setattr(training, "due_definitions", lambda: due)
    assert tasks.retrain_due() == 0 and definition.versions.count() == 1


def test_a_model_deleted_while_its_version_trains_leaves_nothing_and_the_task_ends_quietly(world, monkeypatch):
    make_leads(world.tenant, 80)
    definition = lead_model(world.tenant)
    version = training.new_version(definition)
    search = automl.search

    def delete_then_search(*args, **kwargs):
        DeleteDefinition(world.tenant, world.editor, ModelDefinition.objects.get(pk=definition.pk)).execute()
        return search(*args, **kwargs)

    monkeypatch.setattr(automl, "search", delete_then_search)
    with override_settings(ML_GRIDS=LINEAR_ONLY):
        assert tasks.train_model(world.tenant.pk, version.pk) == "skipped"
    assert not ModelVersion.objects.filter(pk=version.pk).exists() and not ModelDefinition.objects.filter(pk=definition.pk).exists()
