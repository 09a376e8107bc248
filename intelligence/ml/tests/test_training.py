"""Training from records: the dataset, the candidates, promotion only when better, rollback,
cold start, the feedback loop and the artifact's safety — through the services and the task."""

from __future__ import annotations

import fractions

import pytest
import skops.io as sio
from django.core.exceptions import ValidationError
from django.test.utils import override_settings
from django.utils import timezone

from circuits.records.models import Record, RecordChange
from circuits.records.service import CreateRecord, UpdateRecord
from circuits.records.types import get_type
from intelligence.ml import artifacts, dataset, tasks, training
from intelligence.ml.models import ModelDefinition, ModelVersion, Prediction, VersionStatus
from intelligence.ml.services import CreateDefinition, PromoteVersion, RecordOutcome, RequestTraining, Rollback, UpdateDefinition, run_prediction
from intelligence.ml.tests.fixtures import LINEAR_ONLY, lead_model, make_leads

pytestmark = pytest.mark.django_db


def train(world, definition, capture, grids=None) -> ModelVersion:
    with override_settings(ML_GRIDS=grids) if grids else override_settings(), capture(execute=True):
        version = RequestTraining(world.tenant, world.editor, definition).execute()
    version.refresh_from_db()
    return version


def test_a_model_trains_from_the_tenants_labelled_records_comparing_all_three_families(world, django_capture_on_commit_callbacks):
    make_leads(world.tenant, 160)
    make_leads(world.tenant, 40, seed=1, labelled=False, start=500)  # status "new": no outcome yet
    make_leads(world.other_tenant, 300, seed=2)  # never part of our dataset
    definition = lead_model(world.tenant)
    version = train(world, definition, django_capture_on_commit_callbacks)
    assert version.status == VersionStatus.READY and version.active and version.progress == 1.0, version.message
    assert version.train_rows + version.test_rows == 160 and version.test_rows == 40
    assert {c["family"] for c in version.candidates} == {"logistic_regression", "hist_gradient_boosting", "random_forest"}
    assert all(0 < c["cv_roc_auc"] <= 1 for c in version.candidates) and sum(c["chosen"] for c in version.candidates) == 1
    best = max(version.candidates, key=lambda c: c["cv_roc_auc"])
    assert version.chosen == best["name"]
    for key in ("roc_auc", "pr_auc", "brier", "ece", "threshold", "precision", "recall", "roc_curve", "calibration_curve"):
        assert key in version.metrics
    assert version.metrics["roc_auc"] > 0.7  # senior titles and referrals really do convert
    ours = set(Record.objects.for_tenant(world.tenant).values_list("pk", flat=True))
    assert set(version.holdout) <= ours
    assert {i["field"] for i in version.importances} >= {"title", "source"}
    loaded = artifacts.load(version.artifact, version.artifact_sha256)
    assert loaded["model"].predict_proba(loaded["background"][:2]).shape == (2, 2)
    assert version.decision == "first trained version of this model" and definition.__class__.objects.get(pk=definition.pk).last_trained_at


def test_fields_written_after_the_outcome_are_refused_as_leakage(world):
    leads = make_leads(world.tenant, 80)
    later = timezone.now() + timezone.timedelta(minutes=5)
    for lead in leads:  # the outcome first, then someone fills in the score from it
        RecordChange.objects.create(
            tenant=world.tenant, record=lead, record_key=lead.pk, object_type="lead", operation="updated", changes={"status": [None, lead.data["status"]]}
        )
        RecordChange.objects.filter(pk=RecordChange.objects.create(
            tenant=world.tenant, record=lead, record_key=lead.pk, object_type="lead", operation="updated", changes={"score": [None, 90]}
        ).pk).update(created_at=later)  # fmt: skip
    definition = lead_model(world.tenant)
    data = dataset.load(world.tenant, definition, get_type(world.tenant, "lead"))
    assert "score" not in data.fields and "title" in data.fields and "status" not in data.fields
    assert any(w.startswith("score left out: written after the outcome") for w in data.warnings)


def test_cold_start_scores_by_editable_rules_until_there_are_enough_labels(world):
    make_leads(world.tenant, 30)
    definition = lead_model(world.tenant)
    with pytest.raises(ValidationError, match="training needs 60 labelled"):
        RequestTraining(world.tenant, world.editor, definition).execute()
    out = run_prediction(world.tenant, definition, fields={"email": "a@b.io", "title": "VP Sales", "source": "referral"})
    assert out["cold_start"] is True and out["version"] is None
    assert out["score"] == pytest.approx(0.2 + 0.15 + 0.2)  # base + "title contains vp" + "source in referral, partner"
    assert "title contains vp: +0.15" in out["explanation"]["top"]
    UpdateDefinition(
        world.tenant, world.editor, definition, {"rules": {"base": 0.1, "rules": [{"field": "title", "op": "contains", "value": "vp", "weight": 0.5}]}}
    ).execute()
    again = run_prediction(world.tenant, definition, fields={"title": "VP Sales"})
    assert again["score"] == pytest.approx(0.6) and again["cold_start"]
    assert Prediction.objects.filter(definition=definition, cold_start=True, version=None).count() == 2
    with pytest.raises(ValidationError, match="weight must be a number"):
        UpdateDefinition(
            world.tenant, world.editor, definition, {"rules": {"rules": [{"field": "title", "op": "contains", "value": "x", "weight": 5}]}}
        ).execute()


def test_a_new_version_is_promoted_only_when_it_beats_the_active_one_on_the_same_rows(world, django_capture_on_commit_callbacks):
    make_leads(world.tenant, 200)
    definition = lead_model(world.tenant, features=["phone", "company"])  # nothing telling
    weak = train(world, definition, django_capture_on_commit_callbacks, LINEAR_ONLY)
    assert weak.active
    UpdateDefinition(world.tenant, world.editor, definition, {"features": []}).execute()  # every field
    strong = train(world, definition, django_capture_on_commit_callbacks, LINEAR_ONLY)
    assert strong.active and strong.decision.startswith("promoted: ROC AUC +"), strong.decision
    assert strong.metrics["comparison"]["against"] == weak.number and strong.metrics["comparison"]["interval"][0] > 0
    weak.refresh_from_db()
    assert not weak.active
    same = train(world, definition, django_capture_on_commit_callbacks, LINEAR_ONLY)  # the same data again: no better
    assert not same.active and same.status == VersionStatus.READY
    assert same.decision.startswith("kept as a candidate") and "includes 0" in same.decision
    assert ModelVersion.objects.filter(definition=definition, active=True).get() == strong


def test_rollback_reactivates_the_previous_version_then_falls_back_to_cold_start(world, trained, django_capture_on_commit_callbacks):
    definition, first = trained
    second = train(world, definition, django_capture_on_commit_callbacks, LINEAR_ONLY)
    assert not second.active
    PromoteVersion(world.tenant, world.editor, second).execute()
    assert definition.active_version == second and "by hand by editor-a" in ModelVersion.objects.get(pk=second.pk).decision
    assert Rollback(world.tenant, world.editor, definition).execute() == first
    assert definition.active_version == first
    assert Rollback(world.tenant, world.editor, definition).execute() is None
    assert definition.active_version is None
    assert run_prediction(world.tenant, definition, fields={"title": "Engineer"})["cold_start"] is True
    with pytest.raises(ValidationError, match="no active version"):
        Rollback(world.tenant, world.editor, definition).execute()


def test_a_viewer_cannot_train_promote_or_roll_back(world, trained):
    from django.core.exceptions import PermissionDenied

    definition, _ = trained
    for service in (RequestTraining(world.tenant, world.viewer, definition), Rollback(world.tenant, world.viewer, definition)):
        with pytest.raises(PermissionDenied):
            service.execute()


def test_a_recorded_outcome_becomes_a_label_and_reaches_the_records_predictions(world, trained):
    definition, version = trained
    [lead] = make_leads(world.tenant, 1, seed=9, labelled=False, start=900)
    before = training.label_counts(world.tenant, definition)
    prediction = run_prediction(world.tenant, definition, record=lead)
    assert prediction["version"] == version.number and not prediction["cold_start"]
    out = RecordOutcome(world.tenant, world.editor, definition, lead, True).execute()
    assert out == {"record_id": lead.pk, "label": True, "value": "converted", "predictions_updated": 1}
    lead.refresh_from_db()
    assert lead.data["status"] == "converted"
    assert training.label_counts(world.tenant, definition) == (before[0] + 1, before[1] + 1)
    stored = Prediction.objects.get(pk=prediction["prediction_id"])
    assert stored.outcome is True and stored.version == version and stored.record == lead
    assert lead.pk in dataset.load(world.tenant, definition, get_type(world.tenant, "lead")).ids
    change = RecordChange.objects.filter(record=lead, operation="updated").get()
    assert change.changes == {"status": ["new", "converted"]}
    with pytest.raises(ValidationError, match="neither"):
        RecordOutcome(world.tenant, world.editor, definition, lead, "working").execute()


def test_a_queued_version_is_trained_once_even_if_the_task_runs_twice(world, django_capture_on_commit_callbacks):
    make_leads(world.tenant, 100)
    definition = lead_model(world.tenant)
    with override_settings(ML_TRAIN_INLINE=False):
        version = RequestTraining(world.tenant, world.editor, definition).execute()  # on_commit never fires here
    assert version.status == VersionStatus.QUEUED
    with pytest.raises(ValidationError, match="already training"):
        RequestTraining(world.tenant, world.editor, definition).execute()
    assert training.train(world.other_tenant.pk, version.pk) is None  # another tenant's id: nothing happens
    with override_settings(ML_GRIDS=LINEAR_ONLY):
        assert tasks.train_model(world.tenant.pk, version.pk) == VersionStatus.READY
        assert tasks.train_model(world.tenant.pk, version.pk) == "skipped"


def test_scheduled_retraining_queues_only_due_definitions_with_enough_labels(world, trained, django_capture_on_commit_callbacks):
    definition, _ = trained
    small = lead_model(world.other_tenant, name="tiny")  # no labels: skipped
    assert tasks.retrain_due() == 0  # just trained
    ModelDefinition.objects.filter(pk=definition.pk).update(last_trained_at=timezone.now() - timezone.timedelta(days=2))
    with override_settings(ML_GRIDS=LINEAR_ONLY), django_capture_on_commit_callbacks(execute=True):
        assert tasks.retrain_due() == 1
    assert definition.versions.count() == 2 and definition.versions.first().status == VersionStatus.READY
    assert small.versions.count() == 0


def test_an_artifact_is_refused_when_its_checksum_or_types_are_wrong(trained):
    _, version = trained
    with pytest.raises(ValueError, match="checksum"):
        artifacts.load(bytes(version.artifact) + b"x", version.artifact_sha256)
    data, sha = artifacts.dump({"model": fractions.Fraction(1, 3)})
    assert "fractions.Fraction" in sio.get_untrusted_types(data=data)
    with pytest.raises(ValueError, match=r"types our estimators never use: fractions\.Fraction"):
        artifacts.load(data, sha)


def test_another_tenants_model_and_records_are_out_of_reach(world, trained):
    definition, _ = trained
    theirs = make_leads(world.other_tenant, 1, seed=3)[0]
    with pytest.raises(Record.DoesNotExist):
        run_prediction(world.tenant, definition, record=theirs)
    with pytest.raises(ModelDefinition.DoesNotExist):
        Rollback(world.other_tenant, world.outsider, definition).execute()
    with pytest.raises(ModelDefinition.DoesNotExist):
        RecordOutcome(world.other_tenant, world.outsider, definition, theirs, True).execute()


def test_an_outcome_recorded_by_the_history_labels_a_record_even_after_the_field_moved_on(world):
    definition = CreateDefinition(
        world.tenant, None, name="churn", kind="churn", object_type="account", label_field="tier", positive_value="churned",
        negative_values=["active"], label_from_history=True,
    ).execute()  # fmt: skip
    came_back = CreateRecord(world.tenant, world.editor, "account", {"name": "Back", "tier": "active"}).execute()
    UpdateRecord(world.tenant, world.editor, came_back, {"tier": "churned"}).execute()
    UpdateRecord(world.tenant, world.editor, came_back, {"tier": "active"}).execute()
    stayed = CreateRecord(world.tenant, world.editor, "account", {"name": "Stayed", "tier": "active"}).execute()
    CreateRecord(world.tenant, world.editor, "account", {"name": "Unknown"}).execute()
    rows = {pk: label for pk, _, _, label in dataset.labelled(world.tenant, definition)}
    assert rows == {came_back.pk: True, stayed.pk: False}
    definition.label_from_history = False
    assert {pk: label for pk, _, _, label in dataset.labelled(world.tenant, definition)} == {came_back.pk: False, stayed.pk: False}
