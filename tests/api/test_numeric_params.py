"""Every numeric API parameter refuses NaN, infinity and numbers too big to be one: a 400 naming it, never a 500.

`float("nan")` succeeds and NaN passes every min/max check, so these used to reach a
timedelta (`/metrics?hours=nan` → 500), a time budget or a PostgreSQL JSON column.
"""

from __future__ import annotations

import pytest

from circuits.automation.models.circuit import Circuit
from tests.api.access import assert_problem
from tests.api.helpers import client_as, simple_circuit

NOT_FINITE = ["nan", "NaN", "-nan", "inf", "-Infinity", "1e999", "1_0", "\u0661\u0660", "\uff11\uff10"]
HUGE = pytest.param("9" * 5000, id="5000-digits")
NOT_WHOLE = ["nan", "inf", "²", HUGE, "1.5", "-1"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", NOT_FINITE)
def test_metrics_refuse_a_window_that_is_not_a_finite_number(world, value):
    body = assert_problem(client_as(world, "viewer").get(f"/api/v1/metrics?hours={value}"), 400)
    assert "hours" in body["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", NOT_FINITE)
def test_a_waiting_run_refuses_a_timeout_that_is_not_a_finite_number(world, value):
    simple_circuit(world, "greeter")
    response = client_as(world, "operator").post(f"/api/v1/execute?wait=true&timeout={value}", {"circuit_name": "greeter"}, format="json")
    assert "timeout" in assert_problem(response, 400)["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["nan", "Infinity", "1e999"])
def test_a_draft_refuses_positions_and_step_timeouts_that_are_not_finite(world, value):
    simple_circuit(world, "greeter")
    node = {"key": "greet", "action": "util.transform", "config": {"template": "hi"}}
    editor = client_as(world, "editor")
    for bad, field in (({"position": {"x": value, "y": 0}}, "nodes[0].position.x"), ({"timeout_seconds": value}, "nodes[0].timeout_seconds")):
        document = {"nodes": [{**node, **bad}], "edges": [{"source": "trigger", "target": "greet"}]}
        body = assert_problem(editor.put("/api/v1/circuits/greeter/draft", document, format="json"), 400)
        assert body["errors"] == {field: ["must be a finite number (not NaN or infinity)"]}
    assert not Circuit.objects.get(slug="greeter").versions.filter(status="draft").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("value", NOT_WHOLE)
def test_record_paging_refuses_limits_and_offsets_that_are_not_whole_numbers(world, value):
    viewer = client_as(world, "viewer")
    for name in ("limit", "offset"):
        assert name in assert_problem(viewer.get(f"/api/v1/records/lead?{name}={value}"), 400)["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["²", "nan", HUGE])
def test_an_export_refuses_a_version_that_is_not_a_whole_number(world, value):
    simple_circuit(world, "greeter")
    assert "version" in assert_problem(client_as(world, "viewer").get(f"/api/v1/circuits/greeter/export?version={value}"), 400)["errors"]
