"""/api/v1/models…: the access suite on every endpoint, then behaviour through the API."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from circuits.tenancy.roles import Perm
from intelligence.ml.models import ModelDefinition, ModelVersion, VersionStatus
from intelligence.ml.tests.fixtures import lead_model, make_leads
from tests.api.access import ApiAccessSuite, Endpoint, assert_problem
from tests.api.helpers import client_as

V = "/api/v1"
pytestmark = pytest.mark.django_db


@dataclass
class Models:
    ours: ModelDefinition  # an active v1 and a ready v2
    cold: ModelDefinition  # no versions: predictions come from its rules
    theirs: ModelDefinition


def _version(definition: ModelDefinition, number: int, active: bool) -> ModelVersion:
    return ModelVersion.objects.create(
        tenant=definition.tenant, definition=definition, number=number, status=VersionStatus.READY, active=active, promoted_at=None, chosen="x"
    )


def _models(world) -> Models:
    make_leads(world.tenant, 30)
    ours = lead_model(world.tenant, min_labels=10, min_positives=2)
    _version(ours, 1, True)
    _version(ours, 2, False)
    theirs = lead_model(world.other_tenant, min_labels=10, min_positives=2)
    _version(theirs, 1, True)
    _version(theirs, 2, False)
    make_leads(world.other_tenant, 30, seed=4)
    cold = lead_model(world.tenant, name="rules-only")
    return Models(ours, cold, theirs)


def _p(o, suffix=""):
    return f"{V}/models/{o.ours.name}{suffix}"


CROSS = "lead-score-theirs"
ENDPOINTS = [
    Endpoint("models", "get", lambda o: f"{V}/models", Perm.VIEW),
    Endpoint(
        "models",
        "post",
        lambda o: f"{V}/models",
        Perm.EDIT,
        lambda o: {"name": "churn", "kind": "churn", "object_type": "account", "label_field": "tier", "positive_value": "churned"},
        ok=(201,),
    ),
    Endpoint("model", "get", lambda o: _p(o), Perm.VIEW, cross=lambda o: f"{V}/models/{CROSS}"),
    Endpoint("model", "patch", lambda o: _p(o), Perm.EDIT, lambda o: {"min_labels": 50}, cross=lambda o: f"{V}/models/{CROSS}"),
    Endpoint("model", "delete", lambda o: _p(o), Perm.EDIT, ok=(204,), cross=lambda o: f"{V}/models/{CROSS}"),
    Endpoint("versions", "get", lambda o: _p(o, "/versions"), Perm.VIEW, cross=lambda o: f"{V}/models/{CROSS}/versions"),
    Endpoint("version", "get", lambda o: _p(o, "/versions/1"), Perm.VIEW, cross=lambda o: f"{V}/models/{CROSS}/versions/1"),
    Endpoint("promote", "post", lambda o: _p(o, "/versions/2/promote"), Perm.EDIT, cross=lambda o: f"{V}/models/{CROSS}/versions/2/promote"),
    Endpoint("train", "post", lambda o: _p(o, "/train"), Perm.EDIT, ok=(202,), cross=lambda o: f"{V}/models/{CROSS}/train"),
    Endpoint("rollback", "post", lambda o: _p(o, "/rollback"), Perm.EDIT, cross=lambda o: f"{V}/models/{CROSS}/rollback"),
    Endpoint("metrics", "get", lambda o: _p(o, "/metrics"), Perm.VIEW, cross=lambda o: f"{V}/models/{CROSS}/metrics"),
    Endpoint(
        "predict",
        "post",
        lambda o: f"{V}/models/{o.cold.name}/predict",
        Perm.VIEW,
        lambda o: {"fields": {"title": "VP Sales"}},
        cross=lambda o: f"{V}/models/{CROSS}/predict",
    ),
]


class TestModelsApiAccess(ApiAccessSuite):
    pages = ENDPOINTS

    @pytest.fixture
    def objs(self, world) -> Models:
        models = _models(world)
        # The other tenant's model under a name ours lacks: addressing it from our tenant is a 404.
        ModelDefinition.objects.filter(pk=models.theirs.pk).update(name=CROSS)
        return models


def test_define_train_inspect_and_predict_through_the_api(world, django_capture_on_commit_callbacks):
    make_leads(world.tenant, 120)
    client = client_as(world, "editor")
    definition = {
        "name": "leads", "kind": "lead_score", "object_type": "lead", "label_field": "status", "positive_value": "converted",
        "negative_values": ["disqualified"], "min_labels": 60, "min_positives": 15,
    }  # fmt: skip
    created = client.post(f"{V}/models", definition, format="json")
    assert created.status_code == 201 and created.json()["labels"]["labelled"] == 120 and created.json()["labels"]["enough"] is True
    cold = client.post(f"{V}/models/leads/predict", {"fields": {"title": "VP Sales"}}, format="json").json()
    assert cold["cold_start"] is True and cold["version"] is None
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(f"{V}/models/leads/train")
    assert queued.status_code == 202 and queued.json()["number"] == 1
    version = client.get(f"{V}/models/leads/versions/1").json()
    assert version["status"] == "ready" and version["active"] and version["candidates"] and version["metrics"]["roc_auc"] > 0.5
    assert "artifact" not in version
    metrics = client.get(f"{V}/models/leads/metrics").json()
    assert metrics["version"] == 1 and "calibration_curve" in metrics["metrics"]
    lead = make_leads(world.tenant, 1, seed=3, labelled=False, start=999)[0]
    scored = client.post(f"{V}/models/leads/predict", {"record_id": lead.pk}, format="json").json()
    assert scored["version"] == 1 and scored["cold_start"] is False and scored["record_id"] == lead.pk and scored["explanation"]["contributions"]
    assert client.post(f"{V}/models/leads/rollback").json()["active_version"] is None


def test_bad_input_is_a_clear_400_and_nothing_is_saved(world):
    client = client_as(world, "editor")
    bad = client.post(f"{V}/models", {"name": "x", "object_type": "lead", "label_field": "colour", "positive_value": "yes"}, format="json")
    assert "colour" in str(assert_problem(bad, 400)) and not ModelDefinition.objects.filter(name="x").exists()
    unknown = client.post(f"{V}/models", {"name": "y", "object_type": "nope", "label_field": "a", "positive_value": "b"}, format="json")
    assert "Unknown object type" in str(assert_problem(unknown, 400))
    lead_model(world.tenant)
    assert "exactly one of record_id or fields" in str(assert_problem(client.post(f"{V}/models/lead-score/predict", {}, format="json"), 400))
    assert "training needs" in str(assert_problem(client.post(f"{V}/models/lead-score/train"), 400))
    assert "no active version" in str(assert_problem(client.post(f"{V}/models/lead-score/rollback"), 400))
    theirs = make_leads(world.other_tenant, 1)[0]
    assert_problem(client.post(f"{V}/models/lead-score/predict", {"record_id": theirs.pk}, format="json"), 404)
    assert_problem(client.get(f"{V}/models/lead-score/versions/99999999999"), 404)
