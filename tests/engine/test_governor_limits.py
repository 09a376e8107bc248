"""Governor limits a tenant may set are bounded by platform maxima, and every value must be a finite number.

Admins could save `max_steps=10^12`, `max_subcircuit_depth=100000` and `max_seconds=nan`
(a 500: PostgreSQL's JSON refuses NaN). Now the settings page and the service answer a 400
naming each bad limit, and `Limits.for_tenant` clamps whatever is stored (older rows).
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from circuits.automation.engine.limits import Limits
from circuits.automation.models.execution import ExecutionStatus
from circuits.automation.services.tenant_settings import UpdateTenantSettings
from tests.engine.helpers import build, edge, node, run

pytestmark = pytest.mark.django_db
LIMITS_PAGE = "/t/acme/settings/limits/"


def test_limits_beyond_the_platform_maxima_are_a_400_naming_each_and_nothing_is_saved(client_for, world):
    posted = {"max_steps": str(10**12), "max_subcircuit_depth": "100000", "max_seconds": "30"}
    response = client_for(world.admin).post(LIMITS_PAGE, posted)
    page = response.content.decode()
    assert response.status_code == 400
    assert "max_steps: must be at most 100000, the platform&#x27;s maximum (ENGINE_PLATFORM_MAX_STEPS)" in page
    assert "max_subcircuit_depth: must be at most 10, the platform&#x27;s maximum (ENGINE_PLATFORM_MAX_SUBCIRCUIT_DEPTH)" in page
    world.tenant.refresh_from_db()
    assert world.tenant.limits == {}


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
def test_a_limit_that_is_not_a_finite_number_is_a_400_not_a_500(client_for, world, value):
    response = client_for(world.admin).post(LIMITS_PAGE, {"max_seconds": value})
    assert response.status_code == 400
    assert "max_seconds: must be a finite number (not NaN or infinity)" in response.content.decode()
    world.tenant.refresh_from_db()
    assert world.tenant.limits == {}


def test_the_platform_maxima_come_from_settings_and_the_page_shows_them(client_for, world, settings):
    settings.ENGINE_PLATFORM_MAX_STEPS = 50
    admin = client_for(world.admin)
    assert 'max="50"' in admin.get(LIMITS_PAGE).content.decode()
    assert "max_steps: must be at most 50" in admin.post(LIMITS_PAGE, {"max_steps": "51"}).content.decode()
    assert admin.post(LIMITS_PAGE, {"max_steps": "50", "max_seconds": "2.5"}).status_code == 302
    world.tenant.refresh_from_db()
    assert world.tenant.limits == {"max_steps": 50, "max_seconds": 2.5}


def test_the_service_refuses_json_values_that_are_not_finite_numbers_in_range(world):
    bad = {"max_seconds": float("nan"), "max_steps": True, "max_payload_bytes": float("inf"), "max_loop_iterations": 0, "max_parallel_branches": 2.5}
    with pytest.raises(ValidationError) as caught:
        UpdateTenantSettings(world.tenant, world.owner, limits=bad).execute()
    problems = caught.value.message_dict["limits"]
    assert problems == [
        "max_seconds: must be a finite number (not NaN or infinity)",
        "max_steps: must be a number, not true or false",
        "max_payload_bytes: must be a finite number (not NaN or infinity)",
        "max_loop_iterations: must be at least 1",
        "max_parallel_branches: must be a whole number",
    ]
    world.tenant.refresh_from_db()
    assert world.tenant.limits == {}


def test_stored_limits_outside_the_bounds_are_clamped_when_read(world):
    world.tenant.limits = {
        "max_steps": 10**12,
        "max_seconds": "nan",  # what an old row could hold as text
        "max_subcircuit_depth": 100000,
        "max_payload_bytes": -5,
        "max_loop_iterations": True,
        "max_parallel_branches": 3.7,
    }
    world.tenant.save()
    assert Limits.for_tenant(world.tenant) == Limits(
        max_steps=100_000, max_seconds=300.0, max_subcircuit_depth=10, max_payload_bytes=1, max_loop_iterations=1000, max_parallel_branches=3
    )


def test_the_engine_enforces_the_platform_maximum_over_a_stored_limit(world, settings):
    settings.ENGINE_PLATFORM_MAX_STEPS = 4
    world.tenant.limits = {"max_steps": 10**12}
    world.tenant.save()
    circuit = build(
        world,
        "runaway",
        [node("each", "control.loop", {"items": "{{ trigger.items }}"}), node("body", "util.transform", {"template": 1})],
        [edge("trigger", "each"), edge("each", "body", "each")],
    )
    execution = run(circuit, {"items": list(range(10))})
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error["limit"] == "max_steps" and "limit max_steps = 4" in execution.error["message"]


def nested_loops(depth: int) -> tuple[list[dict], list[dict]]:
    """`depth` loops, each the body of the one before, with the longest keys allowed."""
    keys = [f"loop_{i:02d}_" + "x" * 56 for i in range(depth)]
    nodes = [node(k, "control.loop", {"items": "{{ [1] }}"}) for k in keys] + [node("inner", "util.transform", {"template": "deep"})]
    edges = [edge("trigger", keys[0])] + [edge(a, b, "each") for a, b in zip(keys, [*keys[1:], "inner"], strict=True)]
    return nodes, edges


def test_loops_nested_six_deep_with_long_keys_run_and_keep_each_steps_scope(world):
    # Six levels of 64-character keys make a scope of ~410 characters: past the 255 that once
    # failed the step's row on PostgreSQL with "value too long".
    circuit = build(world, "deep-six", *nested_loops(6))
    execution = run(circuit, {})
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    inner = execution.steps.get(node_key="inner")
    assert inner.scope.count("/") == 6 and len(inner.scope) > 255


def test_loops_nested_past_the_scope_limit_fail_the_run_with_a_governor_limit(world):
    circuit = build(world, "deep-twenty", *nested_loops(20))
    execution = run(circuit, {})
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error["type"] == "limit" and execution.error["limit"] == "max_scope_length", execution.error
    assert not execution.steps.filter(node_key="inner").exists()
