"""A governor limit fails the execution as a limit: no error port or on_error=continue swallows it.

Issue #9: a loop over more items than its iteration limit raised an ordinary step error
(type `error`), so a loop whose `error` port led anywhere quietly went on — a runaway loop
looked like a handled failure. Now every governor limit raised by a step (loop iterations,
parallel branches, sub-circuit depth, an output too large) fails the execution with kind
`limit`, and the step that hit it says so.
"""

from __future__ import annotations

import pytest

from circuits.automation.models.execution import ExecutionStatus, StepStatus
from tests.engine.helpers import build, edge, node, run

pytestmark = pytest.mark.django_db

LOOP = {"items": "{{ trigger.items }}"}


def looping(world, slug: str, *, loop_config: dict | None = None, on_error: str = "error_port"):
    return build(
        world,
        slug,
        [
            node("each", "control.loop", loop_config or LOOP, on_error=on_error),
            node("body", "util.transform", {"template": "{{ loop.item }}"}),
            node("handle", "util.transform", {"template": "handled"}),
            node("after", "util.transform", {"template": "went on"}),
        ],
        [edge("trigger", "each"), edge("each", "body", "each"), edge("each", "handle", "error"), edge("each", "after", "done")],
    )


def test_a_loop_over_the_governor_limit_fails_the_execution_even_with_an_error_port(world):
    world.tenant.limits = {"max_loop_iterations": 3}
    world.tenant.save()
    execution = run(looping(world, "runaway-port"), {"items": list(range(4))})

    assert execution.status == ExecutionStatus.FAILED
    assert execution.error["type"] == "limit" and execution.error["limit"] == "max_loop_iterations"
    assert "4 items; at most 3 iterations" in execution.error["message"]
    assert not execution.steps.filter(node_key__in=["handle", "after", "body"]).exists()
    loop_step = execution.steps.get(node_key="each")
    assert loop_step.status == StepStatus.FAILED and loop_step.error["type"] == "limit" and not loop_step.port


def test_a_loop_over_the_governor_limit_fails_the_execution_even_with_on_error_continue(world):
    world.tenant.limits = {"max_loop_iterations": 3}
    world.tenant.save()
    circuit = build(
        world,
        "runaway-continue",
        [
            node("each", "control.loop", LOOP, on_error="continue"),
            node("body", "util.transform", {"template": 1}),
            node("after", "util.transform", {"template": 2}),
        ],
        [edge("trigger", "each"), edge("each", "body", "each"), edge("each", "after", "done")],
    )
    execution = run(circuit, {"items": list(range(5))})

    assert execution.status == ExecutionStatus.FAILED
    assert execution.error["type"] == "limit" and execution.error["limit"] == "max_loop_iterations"
    assert not execution.steps.filter(node_key="after").exists()


def test_a_loops_own_iteration_limit_is_a_limit_too(world):
    execution = run(looping(world, "own-limit", loop_config={**LOOP, "max_iterations": 2}), {"items": [1, 2, 3]})

    assert execution.status == ExecutionStatus.FAILED
    assert execution.error["type"] == "limit" and execution.error["limit"] == "max_iterations"
    assert not execution.steps.filter(node_key="handle").exists()


def test_a_loop_within_its_limits_runs_every_item_and_goes_on(world):
    world.tenant.limits = {"max_loop_iterations": 3}
    world.tenant.save()
    execution = run(looping(world, "within"), {"items": [1, 2, 3]})

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.output == "went on"
    assert execution.steps.filter(node_key="body").count() == 3


def test_an_ordinary_loop_error_still_follows_the_error_port(world):
    # The control: step errors are still the graph's to handle — only limits are not.
    execution = run(looping(world, "not-a-list"), {"items": "not a list"})

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.output == "handled"
    assert execution.steps.get(node_key="each").port == "error"


def test_too_many_parallel_branches_fail_the_execution_as_a_limit_past_the_error_port(world):
    world.tenant.limits = {"max_parallel_branches": 2}
    world.tenant.save()
    circuit = build(
        world,
        "wide",
        [
            node("par", "control.parallel", {"branches": ["a", "b", "c"]}, on_error="error_port"),
            node("a1", "util.transform", {"template": 1}),
            node("b1", "util.transform", {"template": 2}),
            node("c1", "util.transform", {"template": 3}),
            node("handle", "util.transform", {"template": "handled"}),
        ],
        [edge("trigger", "par"), edge("par", "a1", "a"), edge("par", "b1", "b"), edge("par", "c1", "c"), edge("par", "handle", "error")],
    )
    execution = run(circuit)

    assert execution.status == ExecutionStatus.FAILED
    assert execution.error["type"] == "limit" and execution.error["limit"] == "max_parallel_branches"
    assert not execution.steps.filter(node_key="handle").exists()


def test_an_output_over_the_payload_limit_fails_the_execution_and_closes_its_step(world):
    world.tenant.limits = {"max_payload_bytes": 100}
    world.tenant.save()
    circuit = build(
        world,
        "big-output",
        [node("big", "util.transform", {"template": "{{ 'x' * 500 }}"}, on_error="continue"), node("after", "util.transform", {"template": 1})],
        [edge("trigger", "big"), edge("big", "after")],
    )
    execution = run(circuit)

    assert execution.status == ExecutionStatus.FAILED
    assert execution.error["type"] == "limit" and execution.error["limit"] == "max_payload_bytes"
    big = execution.steps.get(node_key="big")
    assert big.status == StepStatus.FAILED and big.error["type"] == "limit"
    assert not execution.steps.filter(node_key="after").exists()
