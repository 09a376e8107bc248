"""The ml.* steps against real trained models: happy paths with score, label, version,
cold_start and explanation; bad configs; and only the step's own tenant is reachable."""

from __future__ import annotations

import pytest

from actions.sdk import ActionError
from circuits.automation.engine.context import DirectContext
from circuits.records.models import Record, RecordChange
from intelligence.ml.models import Prediction
from intelligence.ml.tests.fixtures import lead_model, make_leads
from tests.actions.steps import family

pytestmark = pytest.mark.django_db

OUTPUT_KEYS = {"score", "label", "threshold", "version", "cold_start", "explanation", "prediction_id", "model", "record_id"}


step, run = family("ml")


def test_predict_lead_score_scores_a_lead_with_the_active_version_and_explains_it(world, trained):
    _, version = trained
    [lead] = make_leads(world.tenant, 1, seed=5, labelled=False, start=700)
    out = run(world.tenant, "ml.predict_lead_score", {"record_id": str(lead.pk)})
    assert set(out) == OUTPUT_KEYS and out["version"] == version.number and out["cold_start"] is False
    assert 0 <= out["score"] <= 1 and out["label"] == (out["score"] >= out["threshold"]) and out["record_id"] == lead.pk
    assert out["explanation"]["top"] and ": " in out["explanation"]["top"][0]
    assert Prediction.objects.get(pk=out["prediction_id"]).version == version


def test_predict_lead_score_is_cold_start_before_the_model_has_enough_outcomes(world):
    lead_model(world.tenant)
    out = run(world.tenant, "ml.predict_lead_score", {"fields": {"title": "VP Sales", "source": "referral"}})
    assert out["cold_start"] is True and out["version"] is None and out["score"] == pytest.approx(0.55)


def test_predict_churn_uses_the_tenants_churn_model(world):
    from intelligence.ml.services import CreateDefinition

    CreateDefinition(world.tenant, None, name="churn", kind="churn", object_type="account", label_field="tier", positive_value="churned",
                     rules={"base": 0.1, "rules": [{"field": "employees", "op": "lt", "value": 10, "weight": 0.4}]}).execute()  # fmt: skip
    account = Record.objects.create(tenant=world.tenant, object_type="account", data={"name": "Tiny", "employees": 3})
    out = run(world.tenant, "ml.predict_churn", {"record_id": account.pk})
    assert out["cold_start"] and out["score"] == pytest.approx(0.5) and out["explanation"]["top"] == ["employees lt 10: +0.40"]


def test_predict_names_any_model_and_record_outcome_feeds_it_a_label(world, trained):
    _ = trained
    [lead] = make_leads(world.tenant, 1, seed=6, labelled=False, start=800)
    out = run(world.tenant, "ml.predict", {"model": "lead-score", "record_id": lead.pk})
    assert out["model"] == "lead-score" and not out["cold_start"]
    done = run(world.tenant, "ml.record_outcome", {"model": "lead-score", "record_id": lead.pk, "outcome": "false"})
    assert done == {"record_id": lead.pk, "label": False, "value": "disqualified", "predictions_updated": 1}
    assert Record.objects.get(pk=lead.pk).data["status"] == "disqualified"


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("ml.predict_lead_score", {}, "exactly one of record_id or fields"),
        ("ml.predict_lead_score", {"record_id": 1, "fields": {"title": "x"}}, "exactly one of record_id or fields"),
        ("ml.predict", {"record_id": 1}, "model"),
        ("ml.record_outcome", {"model": "lead-score", "record_id": 1}, "outcome"),
        ("ml.predict", {"model": "lead-score", "record_id": 1, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_config_is_refused_naming_what_is_wrong(name, config, message):
    errors = step(name).validate_config(config)
    assert errors and message in " ".join(errors)


def test_runtime_errors_name_the_missing_model_field_or_record(world, trained):
    with pytest.raises(ActionError, match="model 'nope' not found; models: lead-score"):
        run(world.tenant, "ml.predict", {"model": "nope", "fields": {"title": "x"}})
    with pytest.raises(ActionError, match="Unknown field 'colour'"):
        run(world.tenant, "ml.predict_lead_score", {"fields": {"colour": "red"}})
    with pytest.raises(ActionError, match="no churn model"):
        run(world.tenant, "ml.predict_churn", {"fields": {"name": "x"}})
    with pytest.raises(ActionError, match="neither"):
        [lead] = make_leads(world.tenant, 1, seed=7, labelled=False, start=950)
        run(world.tenant, "ml.record_outcome", {"model": "lead-score", "record_id": lead.pk, "outcome": "working"})


def test_a_step_never_reaches_another_tenants_model_or_records(world, trained):
    theirs = make_leads(world.other_tenant, 1, seed=8)[0]
    with pytest.raises(ActionError, match="not found"):
        run(world.tenant, "ml.predict_lead_score", {"record_id": theirs.pk})
    with pytest.raises(ActionError, match="no lead score model"):
        run(world.other_tenant, "ml.predict_lead_score", {"fields": {"title": "VP"}})
    with pytest.raises(ActionError, match="not found"):
        run(world.other_tenant, "ml.record_outcome", {"model": "lead-score", "record_id": theirs.pk, "outcome": True})


def test_record_outcome_rerun_with_the_same_idempotency_key_writes_once(world, trained):
    [lead] = make_leads(world.tenant, 1, seed=12, labelled=False, start=1200)
    cls = step("ml.record_outcome")
    config = {"model": "lead-score", "record_id": lead.pk, "outcome": True}
    for _ in range(2):  # the step re-run after its worker died
        ctx = DirectContext(tenant=world.tenant, execution=None, node_key="n1", data={}, idempotency_key="exec-1:n1:1")
        assert cls().run(ctx, config)["label"] is True
    assert RecordChange.objects.filter(record=lead, operation="updated").count() == 1


def test_record_outcome_writes_a_negative_to_a_true_false_label_without_negative_values_configured(world):
    from circuits.records.models import ObjectType
    from intelligence.ml.services import CreateDefinition

    ObjectType.objects.create(tenant=world.tenant, slug="deal", label="Deal", fields=[{"name": "amount", "type": "number"}, {"name": "won", "type": "boolean"}])
    CreateDefinition(world.tenant, None, name="won", object_type="deal", label_field="won", positive_value="true").execute()
    deal = Record.objects.create(tenant=world.tenant, object_type="deal", data={"amount": 10})
    for outcome, stored in (("false", False), (True, True), (False, False)):
        out = run(world.tenant, "ml.record_outcome", {"model": "won", "record_id": deal.pk, "outcome": outcome})
        deal.refresh_from_db()
        assert out["label"] is stored and deal.data["won"] is stored
