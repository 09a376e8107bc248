"""Explanations: exact for logistic regression (contributions add up to the score), a
deterministic, consistent local attribution for trees, in plain words."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings

from intelligence.ml import scoring
from intelligence.ml.services import RequestTraining, run_prediction
from intelligence.ml.tests.fixtures import TREES_ONLY, lead_model, make_leads

pytestmark = pytest.mark.django_db

SENIOR_REFERRAL = {"email": "x@example.com", "title": "VP Sales", "source": "referral", "company": "Co 1"}
JUNIOR_ADS = {"email": "y@example.com", "title": "Assistant", "source": "ads", "company": "Co 2"}


def test_linear_contributions_add_up_exactly_to_the_score(world, trained):
    definition, version = trained
    assert version.encoder["family"] == "logistic_regression"
    for fields in (SENIOR_REFERRAL, JUNIOR_ADS):
        out = run_prediction(world.tenant, definition, fields=fields)
        explanation = out["explanation"]
        assert explanation["exact"] is True and not out["cold_start"] and out["version"] == version.number
        total = explanation["base"] + sum(c["contribution"] for c in explanation["contributions"])
        assert total == pytest.approx(out["score"], abs=2e-3)
    senior = run_prediction(world.tenant, definition, fields=SENIOR_REFERRAL)
    junior = run_prediction(world.tenant, definition, fields=JUNIOR_ADS)
    assert senior["score"] > junior["score"]
    by_field = {c["field"]: c for c in senior["explanation"]["contributions"]}
    assert by_field["title"]["contribution"] > 0 and by_field["title"]["text"].startswith("title is VP Sales: +")
    assert by_field["source"]["contribution"] > 0 and by_field["source"]["text"].startswith("source is referral: +")
    assert {c["field"] for c in senior["explanation"]["contributions"][:2]} == {"title", "source"}


def test_tree_attributions_are_deterministic_and_point_the_right_way(world, django_capture_on_commit_callbacks):
    make_leads(world.tenant, 200)
    definition = lead_model(world.tenant)
    with override_settings(ML_GRIDS=TREES_ONLY), django_capture_on_commit_callbacks(execute=True):
        version = RequestTraining(world.tenant, world.editor, definition).execute()
    version.refresh_from_db()
    assert version.encoder["family"] == "hist_gradient_boosting", version.message
    first = run_prediction(world.tenant, definition, fields=SENIOR_REFERRAL)["explanation"]
    again = run_prediction(world.tenant, definition, fields=SENIOR_REFERRAL)["explanation"]
    assert first == again and first["exact"] is False and "replacement" in first["method"]
    by_field = {c["field"]: c["contribution"] for c in first["contributions"]}
    assert by_field["source"] > 0 and by_field["title"] > 0
    assert by_field.get("phone", 0) == pytest.approx(0, abs=0.05)  # phone is noise in this data
    junior = {c["field"]: c["contribution"] for c in run_prediction(world.tenant, definition, fields=JUNIOR_ADS)["explanation"]["contributions"]}
    assert junior["source"] < 0
    # Consistent with the model: changing the field with the largest push moves the score that way.
    top = first["contributions"][0]
    changed = dict(SENIOR_REFERRAL, **{top["field"]: JUNIOR_ADS[top["field"]]})
    assert scoring.score_one(version, changed, with_explanation=False)[0] < first["score"]
    assert first["top"][0].endswith(f"{top['contribution']:+.2f}")
