"""The Models pages and the record page's predictions panel: the tenant access suite, then what
a person sees (candidates, plots, importances, history) and does (train, promote, roll back)."""

from __future__ import annotations

import itertools

import pytest
from django.utils import timezone

from circuits.records.models import Record
from intelligence.ml.models import ModelDefinition, ModelVersion, Prediction, VersionStatus
from intelligence.ml.tests.fixtures import lead_model, make_leads
from tests.access import Page, TenantAccessSuite

pytestmark = pytest.mark.django_db
_n = itertools.count()

METRICS = {"roc_auc": 0.81, "pr_auc": 0.6, "brier": 0.15, "ece": 0.03, "threshold": 0.3, "precision": 0.5, "recall": 0.6,
           "roc_curve": [[0, 0], [0.2, 0.6], [1, 1]], "calibration_curve": [[0.1, 0.12], [0.5, 0.48], [0.9, 0.85]]}  # fmt: skip
CANDIDATES = [
    {
        "name": "logistic_regression(C=1.0)",
        "family": "logistic_regression",
        "status": "done",
        "cv_roc_auc": 0.8,
        "cv_std": 0.02,
        "seconds": 0.1,
        "chosen": True,
    },
    {"name": "random_forest(min_samples_leaf=3)", "family": "random_forest", "status": "skipped", "reason": "time box reached", "chosen": False},
]


NEW = {"kind": "custom", "object_type": "lead", "label_field": "status", "positive_value": "converted"}


def _t(world) -> str:
    return f"/t/{world.tenant.slug}"


def _model(world, tenant=None) -> ModelDefinition:
    tenant = tenant or world.tenant
    definition = ModelDefinition.objects.for_tenant(tenant).filter(name="lead-score").first()
    if definition is None:
        definition = lead_model(tenant)
        lead_model(tenant, name="rules-only")
        for number, active in ((1, True), (2, False)):
            ModelVersion.objects.create(
                tenant=tenant, definition=definition, number=number, status=VersionStatus.READY, active=active, metrics=METRICS,
                promoted_at=timezone.now() if active else None,
                candidates=CANDIDATES, chosen="logistic_regression(C=1.0)", importances=[{"field": "title", "importance": 0.12}],
            )  # fmt: skip
    return definition


def _lead(world) -> Record:
    _model(world)
    return make_leads(world.tenant, 1, labelled=False)[0]


class TestModelPagesAccess(TenantAccessSuite):
    pages = [
        Page("models", lambda w: f"{_t(w)}/models/"),
        Page("define", lambda w: f"{_t(w)}/models/", perm="edit", method="post", data=lambda w: {"name": f"m{next(_n)}", **NEW}),
        Page("model", lambda w: f"{_t(w)}/models/{_model(w).name}/"),
        Page("train", lambda w: f"{_t(w)}/models/{_model(w).name}/train", perm="edit", method="post"),
        Page("rollback", lambda w: f"{_t(w)}/models/{_model(w).name}/rollback", perm="edit", method="post"),
        Page("rules", lambda w: f"{_t(w)}/models/{_model(w).name}/rules", perm="edit", method="post", data=lambda w: {"rules": '{"base": 0.3}'}),
        Page("promote", lambda w: f"{_t(w)}/models/{_model(w).name}/versions/2/promote", perm="edit", method="post"),
        Page("record-predictions", lambda w: f"{_t(w)}/models/_records/{_lead(w).pk}/predictions"),
        Page("score-record", lambda w: f"{_t(w)}/models/_records/{_lead(w).pk}/predictions", method="post", data=lambda w: {"model": "rules-only"}),
    ]


def test_the_model_page_shows_candidates_plots_importances_and_history(client_for, world):
    definition = _model(world)
    html = client_for(world.viewer).get(f"{_t(world)}/models/{definition.name}/").content.decode()
    assert "logistic_regression(C=1.0)" in html and "time box reached" in html
    assert 'aria-label="ROC curve on the held-out rows"' in html and '<polyline points="20.0,210.0 60.0,90.0 220.0,10.0"' in html
    assert 'aria-label="Calibration curve on the held-out rows"' in html
    assert ">title</td>" in html and "v2" in html and "Promote" not in html  # a viewer sees no buttons


def test_promote_and_roll_back_from_the_page(client_for, world):
    definition = _model(world)
    client = client_for(world.editor)
    assert client.post(f"{_t(world)}/models/{definition.name}/versions/2/promote").status_code == 302
    assert definition.active_version.number == 2
    client.post(f"{_t(world)}/models/{definition.name}/rollback")
    assert definition.active_version.number == 1
    response = client.post(f"{_t(world)}/models/{definition.name}/rules", {"rules": "{not json"}, follow=True)
    assert "not JSON" in response.content.decode()


def test_a_record_page_loads_its_predictions_and_scores_it_on_request(client_for, world):
    lead = _lead(world)
    client = client_for(world.viewer)
    page = client.get(f"{_t(world)}/records/lead/{lead.pk}/").content.decode()
    assert f"/models/_records/{lead.pk}/predictions" in page
    panel = client.post(f"{_t(world)}/models/_records/{lead.pk}/predictions", {"model": "rules-only"}).content.decode()
    assert "cold start" in panel and "Score now" in panel
    assert Prediction.objects.get(record=lead).cold_start


def test_another_tenants_model_and_records_are_404(client_for, world):
    theirs = _model(world, world.other_tenant)
    their_lead = make_leads(world.other_tenant, 1)[0]
    client = client_for(world.owner)
    assert client.get(f"{_t(world)}/models/{theirs.name}/").status_code == 404 or not ModelDefinition.objects.for_tenant(world.tenant).exists()
    assert client.get(f"{_t(world)}/models/_records/{their_lead.pk}/predictions").status_code == 404
    _model(world)
    assert client.post(f"{_t(world)}/models/_records/{their_lead.pk}/predictions", {"model": "lead-score"}).status_code == 404
