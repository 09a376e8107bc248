"""The engine walks the graph, renders configs, branches, loops and persists every step."""

from __future__ import annotations

import pytest

from circuits.automation.models.execution import ExecutionStatus
from tests.engine.helpers import build, chain, edge, node, run


@pytest.mark.django_db
def test_a_linear_circuit_runs_every_step_and_keeps_their_outputs(world):
    circuit = build(
        world,
        "linear",
        [
            node("greet", "util.set_variable", {"variables": {"who": "{{ trigger.name }}", "n": "{{ trigger.n * 2 }}"}}),
            node("shape", "util.transform", {"template": {"hello": "Hi {{ vars.who }}", "double": "{{ vars.n }}"}}),
        ],
        chain("greet", "shape"),
    )
    execution = run(circuit, {"name": "Ada", "n": 21})
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == {"hello": "Hi Ada", "double": 42}
    assert [s.node_key for s in execution.steps.order_by("pk")] == ["greet", "shape"]
    assert execution.vars == {"who": "Ada", "n": 42}
    assert execution.duration_ms is not None and execution.step_count == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("score", "branch"), [(90, "hot"), (10, "cold")])
def test_conditional_follows_the_true_or_false_port(world, score, branch):
    circuit = build(
        world,
        f"cond-{branch}",
        [
            node("check", "control.if", {"condition": "{{ trigger.score >= 80 }}"}),
            node("hot", "util.transform", {"template": "hot"}),
            node("cold", "util.transform", {"template": "cold"}),
        ],
        [edge("trigger", "check"), edge("check", "hot", "true"), edge("check", "cold", "false")],
    )
    execution = run(circuit, {"score": score})
    assert execution.output == branch, execution.error
    assert {s.node_key for s in execution.steps.all()} == {"check", branch}


@pytest.mark.django_db
def test_switch_routes_by_value_and_falls_back_to_default(world):
    circuit = build(
        world,
        "switch",
        [
            node("plan", "control.switch", {"value": "{{ trigger.plan }}", "cases": [{"port": "pro", "equals": "pro"}, {"port": "free", "equals": "free"}]}),
            node("p", "util.transform", {"template": "P"}),
            node("f", "util.transform", {"template": "F"}),
            node("d", "util.transform", {"template": "D"}),
        ],
        [edge("trigger", "plan"), edge("plan", "p", "pro"), edge("plan", "f", "free"), edge("plan", "d", "default")],
    )
    assert run(circuit, {"plan": "pro"}).output == "P"
    assert run(circuit, {"plan": "free"}).output == "F"
    assert run(circuit, {"plan": "gold"}).output == "D"


@pytest.mark.django_db
def test_loop_runs_its_body_per_item_then_continues_on_done(world):
    circuit = build(
        world,
        "loop",
        [
            node("each", "control.loop", {"items": "{{ trigger.items }}"}),
            node("square", "util.transform", {"template": "{{ loop.item * loop.item }}"}),
            node("after", "util.transform", {"template": "{{ steps.each.output.results }}"}),
        ],
        [edge("trigger", "each"), edge("each", "square", "each"), edge("each", "after", "done")],
    )
    execution = run(circuit, {"items": [1, 2, 3]})
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == [1, 4, 9]
    scopes = sorted(s.scope for s in execution.steps.filter(node_key="square"))
    assert scopes == ["/each[0]", "/each[1]", "/each[2]"]


@pytest.mark.django_db
def test_stop_ends_the_execution_with_its_output(world):
    circuit = build(
        world,
        "stop",
        [node("done", "control.stop", {"output": {"ok": True}}), node("never", "util.log", {"message": "x"})],
        chain("done", "never"),
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.output == {"ok": True}
    assert not execution.steps.filter(node_key="never").exists()


@pytest.mark.django_db
def test_stop_as_failed_fails_the_execution_with_the_message(world):
    circuit = build(world, "stop-fail", [node("halt", "control.stop", {"status": "failed", "message": "bad lead"})], chain("halt"))
    execution = run(circuit)
    assert execution.status == ExecutionStatus.FAILED and execution.error["message"] == "bad lead"
