"""Attacks on the models as a stranger or a malicious tenant would try them, each pinned by a test."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from circuits.records.models import Record
from intelligence.ml import artifacts, automl, tasks, training
from intelligence.ml.models import ModelDefinition, ModelVersion, Prediction
from intelligence.ml.services import DeleteDefinition, PromoteVersion, RequestTraining, Rollback, run_prediction
from intelligence.ml.tests.fixtures import LINEAR_ONLY, lead_model, make_leads
from tests.api.access import assert_problem
from tests.api.helpers import client_as

pytestmark = pytest.mark.django_db
V = "/api/v1"


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


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"title": {"a": [1]}}, "title"),
        ({"phone": ["x"]}, "phone"),
        ({"email": "not an address"}, "email"),
        ({"score": "NaN"}, "score"),
        ({"score": 1e9}, "score"),
    ],
)
def test_predicting_from_fields_of_the_wrong_type_is_a_400_naming_the_field(world, fields, named):
    lead_model(world.tenant)
    response = client_as(world, "editor").post(f"{V}/models/lead-score/predict", {"fields": fields}, format="json")
    assert named in assert_problem(response, 400)["errors"] and not Prediction.objects.exists()


def test_predicting_from_some_valid_fields_leaves_the_others_missing(world):
    lead_model(world.tenant)
    response = client_as(world, "editor").post(f"{V}/models/lead-score/predict", {"fields": {"title": "VP Sales", "score": "42"}}, format="json")
    assert response.status_code == 200 and response.json()["cold_start"] is True


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"field": "source", "op": "in", "value": ["web"] * 101, "weight": 0.1}, "list of 1 to 100 values"),
        ({"field": "title", "op": "contains", "value": {"a": [1, {"b": 2}]}, "weight": 0.1}, "value must be text"),
        ({"field": "title", "op": "contains", "value": "x" * 201, "weight": 0.1}, "at most 200 characters"),
        ({"field": "score", "op": "gt", "value": "ten", "weight": 0.1}, "finite number"),
        ({"field": "title", "op": "contains", "value": "vp", "weight": 0.1, "then": "{0.__class__}"}, "unknown keys: then"),
    ],
)
def test_cold_start_rules_with_unbounded_or_nested_values_are_refused(world, rule, says):
    lead_model(world.tenant)
    response = client_as(world, "editor").patch(f"{V}/models/lead-score", {"rules": {"base": 0.1, "rules": [rule]}}, format="json")
    assert says in str(assert_problem(response, 400)["errors"]["rules"])
    assert ModelDefinition.objects.get(name="lead-score").rules["base"] == 0.2  # unchanged


def test_a_positive_value_the_label_field_can_never_take_is_refused(world):
    client = client_as(world, "editor")
    values = {"name": "never", "object_type": "lead", "label_field": "status", "positive_value": "won", "negative_values": ["lost"]}
    errors = assert_problem(client.post(f"{V}/models", values, format="json"), 400)["errors"]
    assert "'won' is not a value status can take" in str(errors["positive_value"]) and "lost" in str(errors["negative_values"])
    assert not ModelDefinition.objects.exists()


def test_a_feature_named_twice_is_refused(world):
    lead_model(world.tenant)
    response = client_as(world, "editor").patch(f"{V}/models/lead-score", {"features": ["title"] * 50}, format="json")
    assert "named more than once: title" in str(assert_problem(response, 400)["errors"]["features"])


def _definitions_with_versions(tenant, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        definition = lead_model(tenant, name=f"m{i}", label_from_history=i % 2 == 0)
        for number in (1, 2, 3):
            ModelVersion.objects.create(tenant=tenant, definition=definition, number=number, status="ready", active=number == 2, metrics={"roc_auc": 0.8})


def test_the_models_page_and_list_take_as_many_queries_for_many_models_as_for_two(world, client_for):
    make_leads(world.tenant, 30)
    page, api = client_for(world.editor), client_as(world, "editor")

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as on_page:
            assert page.get(f"/t/{world.tenant.slug}/models/").status_code == 200
        with CaptureQueriesContext(connection) as on_api:
            assert api.get(f"{V}/models").status_code == 200
        return len(on_page), len(on_api)

    _definitions_with_versions(world.tenant, 2)
    queries()  # the first request of a session warms caches
    few = queries()
    _definitions_with_versions(world.tenant, 10, start=2)
    assert queries() == few
    listed = api.get(f"{V}/models").json()["results"]
    assert len(listed) == 12 and all(d["active_version"]["number"] == 2 for d in listed)
    assert training.label_counts_many(world.tenant, list(ModelDefinition.objects.all())) == {
        d.pk: training.label_counts(world.tenant, d) for d in ModelDefinition.objects.all()
    }


XSS = '<img src=x onerror="alert(1)">'


def test_labels_rule_values_and_explanations_are_escaped_on_the_models_pages_and_the_record_panel(world, client_for):
    rules = {"base": 0.2, "rules": [{"field": "title", "op": "contains", "value": f"vp{XSS}</textarea>", "weight": 0.3}]}
    lead_model(world.tenant, label=XSS, negative_values=["disqualified"], rules=rules)
    lead = make_leads(world.tenant, 1, labelled=False)[0]
    Record.objects.filter(pk=lead.pk).update(data={**lead.data, "title": f"VP{XSS}</textarea> Sales"})
    page = client_for(world.editor)
    t = f"/t/{world.tenant.slug}"
    scored = page.post(f"{t}/models/_records/{lead.pk}/predictions", {"model": "lead-score"})
    assert scored.status_code == 200 and "title contains vp&lt;img" in scored.content.decode()
    for response in (scored, page.get(f"{t}/models/"), page.get(f"{t}/models/lead-score/"), page.get(f"{t}/models/_records/{lead.pk}/predictions")):
        html = response.content.decode()
        assert response.status_code == 200 and XSS not in html and "</textarea><" not in html.replace("</textarea>\n", "")


def test_rolling_back_an_older_version_promoted_again_by_hand_reactivates_the_one_it_replaced(world):
    definition = lead_model(world.tenant)
    start = timezone.now() - timezone.timedelta(days=2)
    v1, v2 = (
        ModelVersion.objects.create(tenant=world.tenant, definition=definition, number=n, status="ready", promoted_at=start + timezone.timedelta(hours=n))
        for n in (1, 2)
    )
    ModelVersion.objects.filter(pk=v2.pk).update(active=True)
    PromoteVersion(world.tenant, world.editor, v1).execute()  # back to v1 by hand
    assert Rollback(world.tenant, world.editor, definition).execute() == v2
    assert ModelVersion.objects.get(active=True) == v2


@pytest.mark.parametrize("status", ["queued", "training", "failed"])
def test_a_version_that_is_not_ready_cannot_be_promoted(world, status):
    definition = lead_model(world.tenant)
    version = ModelVersion.objects.create(tenant=world.tenant, definition=definition, number=1, status=status)
    response = client_as(world, "editor").post(f"{V}/models/lead-score/versions/1/promote")
    assert f"v1 is {status}" in str(assert_problem(response, 400)) and not ModelVersion.objects.get(pk=version.pk).active


@pytest.mark.parametrize(
    ("text", "says"), [("[" * 50_000 + "]" * 50_000, "nested too deeply"), ('{"base": NaN}', "NaN is not a JSON number")], ids=["deep", "nan"]
)
def test_rules_pasted_on_the_model_page_nested_thousands_deep_or_with_nan_are_refused_with_a_message(world, client_for, text, says):
    lead_model(world.tenant)
    page = client_for(world.editor)
    response = page.post(f"/t/{world.tenant.slug}/models/lead-score/rules", {"rules": text}, follow=True)
    assert response.status_code == 200 and says in response.content.decode()
    assert ModelDefinition.objects.get(name="lead-score").rules["base"] == 0.2


def test_the_record_panel_takes_as_many_queries_for_many_scored_models_as_for_two(world, client_for):
    lead = make_leads(world.tenant, 1, labelled=False)[0]
    page = client_for(world.editor)
    url = f"/t/{world.tenant.slug}/models/_records/{lead.pk}/predictions"

    def scored(count: int, start: int = 0) -> int:
        for i in range(start, start + count):
            definition = lead_model(world.tenant, name=f"m{i}")
            for _ in range(2):
                run_prediction(world.tenant, definition, record=lead)
        page.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = page.get(url)
        assert response.status_code == 200
        return len(queries)

    few = scored(2)
    assert scored(8, start=2) == few
    newest = Prediction.objects.filter(definition__name="m5").order_by("-pk").first()
    assert newest.version is None and f"{newest.score:.2f}" in page.get(url).content.decode()


def test_a_model_whose_only_feature_is_never_filled_in_fails_its_run_with_the_reason(world, django_capture_on_commit_callbacks):
    make_leads(world.tenant, 80)
    definition = lead_model(world.tenant, features=["first_name"])  # no lead has one
    with override_settings(ML_GRIDS=LINEAR_ONLY), django_capture_on_commit_callbacks(execute=True):
        version = RequestTraining(world.tenant, world.editor, definition).execute()
    version.refresh_from_db()
    assert version.status == "failed" and "no columns that vary" in version.message and not version.active
    assert run_prediction(world.tenant, definition, fields={"title": "VP Sales"})["cold_start"] is True


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "a b"}, "name"),
        ({"name": "<b>"}, "name"),
        ({"name": "x" * 51}, "name"),
        ({"name": "ok", "label": "L" * 101}, "label"),
        ({"name": "ok", "negative_values": ",".join(f"v{i}" for i in range(51))}, "negative_values"),
    ],
    ids=["space", "markup", "long name", "long label", "many negatives"],
)
def test_defining_a_model_on_the_page_with_a_name_no_url_can_hold_or_an_oversized_value_is_a_400_and_the_list_still_loads(world, client_for, values, field):
    page = client_for(world.editor)
    url = f"/t/{world.tenant.slug}/models/"
    response = page.post(url, {"object_type": "lead", "label_field": "status", "positive_value": "converted", **values})
    assert response.status_code == 400 and not ModelDefinition.objects.exists()
    assert {"name": "Name the model", "label": "at most 100", "negative_values": "at most 50 values"}[field] in response.content.decode()
    assert page.get(url).status_code == 200


def test_a_run_with_too_few_of_one_outcome_for_the_split_and_folds_fails_with_that_reason_not_scikit_learns(world, django_capture_on_commit_callbacks):
    make_leads(world.tenant, 7, seed=1)
    definition = lead_model(world.tenant, min_labels=2, min_positives=2)
    with override_settings(ML_GRIDS=LINEAR_ONLY), django_capture_on_commit_callbacks(execute=True):
        version = RequestTraining(world.tenant, world.editor, definition).execute()
    version.refresh_from_db()
    assert version.status == "failed" and "records of the rarer outcome" in version.message
    assert f"at least {training.fewest_per_outcome()} of each outcome" in version.message


def test_beat_checks_many_models_in_as_many_queries_as_two(world):
    make_leads(world.tenant, 30)  # too few labels to queue anything: the scan alone is counted

    def queries(count: int, start: int = 0) -> int:
        for i in range(start, start + count):
            lead_model(world.tenant if i % 2 else world.other_tenant, name=f"m{i}", min_labels=1000)
        with CaptureQueriesContext(connection) as seen:
            assert tasks.retrain_due() == 0
        return len(seen)

    assert queries(2) == queries(10, start=2)
