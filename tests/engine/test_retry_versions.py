"""Retry from the failed step, on the version it ran or on the published version (to pick up a fix).

Before: a retry always re-ran the archived version it ran, so a fix published since could
never be picked up; and each retry of a retry appended another "kept from execution N"
entry to every kept step's logs.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from circuits.automation.engine.runner import run_now
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import ExecutionStatus, StepRun
from circuits.automation.services.executions import RetryFromFailedStep, RetryVersion
from circuits.automation.services.versions import PublishDraft, SaveDraft
from tests.engine.helpers import build, chain, edge, node, run

pytestmark = pytest.mark.django_db

BROKEN = {"template": "{{ trigger.missing + 1 }}"}  # arithmetic on a missing key fails the step


def publish(world, circuit: Circuit, nodes: list[dict], edges: list[dict]) -> None:
    SaveDraft(world.tenant, world.owner, circuit, {"nodes": nodes, "edges": edges}).execute()
    PublishDraft(world.tenant, world.owner, circuit).execute()


def retry(world, failed, version: str = RetryVersion.ORIGINAL):
    return run_now(RetryFromFailedStep(world.tenant, world.operator, failed, version=version).execute())


def kept(execution) -> list[str]:
    return sorted(s.node_key for s in StepRun.objects.filter(execution=execution) if any("copied_from" in entry for entry in s.logs))


def test_a_retry_on_the_published_version_picks_up_the_fix_and_keeps_the_untouched_steps(world):
    nodes = [node("a", "util.transform", {"template": "A"}), node("b", "util.transform", BROKEN), node("c", "util.transform", {"template": "C"})]
    circuit = build(world, "fixable", nodes, chain("a", "b", "c"))
    failed = run(circuit)
    assert failed.status == ExecutionStatus.FAILED and failed.error["node"] == "b"
    nodes[1] = node("b", "util.transform", {"template": "{{ steps.a.output }} fixed"})
    publish(world, circuit, nodes, chain("a", "b", "c"))

    same = retry(world, failed)  # the default: the version it ran, with the bug
    assert same.status == ExecutionStatus.FAILED and same.version_id == failed.version_id

    fixed = retry(world, failed, RetryVersion.PUBLISHED)
    assert fixed.status == ExecutionStatus.SUCCEEDED, fixed.error
    assert fixed.version.number == 2 and fixed.rerun_of_id == failed.pk
    assert fixed.steps.get(node_key="b").output == "A fixed" and fixed.output == "C"
    assert kept(fixed) == ["a"]  # a is unchanged upstream of the fix; b and c ran


def test_a_changed_step_runs_again_with_everything_downstream_of_it(world):
    nodes = [
        node("a", "util.transform", {"template": "A"}),
        node("b", "util.transform", {"template": "B1"}),
        node("c", "util.transform", {"template": "{{ steps.b.output }}+C"}),
        node("d", "util.transform", BROKEN),
    ]
    circuit = build(world, "downstream", nodes, chain("a", "b", "c", "d"))
    failed = run(circuit)
    assert kept(retry(world, failed)) == ["a", "b", "c"]  # on the version it ran: every finished step
    nodes[1] = node("b", "util.transform", {"template": "B2"})
    nodes[3] = node("d", "util.transform", {"template": "{{ steps.c.output }}"})
    publish(world, circuit, nodes, chain("a", "b", "c", "d"))
    result = retry(world, failed, RetryVersion.PUBLISHED)
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert kept(result) == ["a"]  # c's config is the same, but it read b's old output
    assert result.output == "B2+C"


def test_a_step_whose_incoming_edges_changed_runs_again(world):
    nodes = [node("a", "util.transform", {"template": "A"}), node("b", "util.transform", {"template": "B"}), node("c", "util.transform", BROKEN)]
    circuit = build(world, "rewired", nodes, chain("a", "b", "c"))
    failed = run(circuit)
    nodes = [*nodes[:2], node("c", "util.transform", {"template": "ok"}), node("n", "util.transform", {"template": "new"})]
    publish(world, circuit, nodes, [edge("trigger", "a"), edge("a", "n"), edge("n", "b"), edge("b", "c")])  # a new step between a and b
    result = retry(world, failed, RetryVersion.PUBLISHED)
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert kept(result) == ["a"]
    assert sorted(result.steps.values_list("node_key", flat=True)) == ["a", "b", "c", "n"]


def test_a_loop_is_kept_only_while_its_body_is_unchanged(world):
    def loop_nodes(square: str, after: dict) -> list[dict]:
        return [
            node("start", "util.transform", {"template": "go"}),
            node("each", "control.loop", {"items": "{{ trigger.items }}"}),
            node("square", "util.transform", {"template": square}),
            node("after", "util.transform", after),
        ]

    edges = [edge("trigger", "start"), edge("start", "each"), edge("each", "square", "each"), edge("each", "after", "done")]
    circuit = build(world, "looped", loop_nodes("{{ loop.item * loop.item }}", BROKEN), edges)
    failed = run(circuit, {"items": [1, 2, 3]})
    assert failed.status == ExecutionStatus.FAILED and failed.error["node"] == "after"

    publish(world, circuit, loop_nodes("{{ loop.item * loop.item }}", {"template": "{{ steps.each.output.results }}"}), edges)
    body_unchanged = retry(world, failed, RetryVersion.PUBLISHED)
    assert body_unchanged.status == ExecutionStatus.SUCCEEDED, body_unchanged.error
    assert kept(body_unchanged) == ["each", "square", "square", "square", "start"] and body_unchanged.output == [1, 4, 9]

    publish(world, circuit, loop_nodes("{{ loop.item * 10 }}", {"template": "{{ steps.each.output.results }}"}), edges)
    body_changed = retry(world, failed, RetryVersion.PUBLISHED)
    assert body_changed.status == ExecutionStatus.SUCCEEDED, body_changed.error
    assert kept(body_changed) == ["start"] and body_changed.output == [10, 20, 30]


def test_a_handled_failure_runs_again_on_the_published_version(world):
    nodes = [
        node("try", "util.transform", BROKEN, on_error="continue"),
        node("end", "util.transform", BROKEN),
    ]
    circuit = build(world, "handled", nodes, chain("try", "end"))
    failed = run(circuit)
    assert kept(retry(world, failed)) == ["try"]  # the version it ran: the handled failure is followed again
    publish(world, circuit, [nodes[0], node("end", "util.transform", {"template": "E"})], chain("try", "end"))
    result = retry(world, failed, RetryVersion.PUBLISHED)
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert kept(result) == []


def test_a_retry_on_the_published_version_starts_from_the_variables_its_kept_steps_set(world):
    def nodes(kept: dict, renamed: dict, end: dict) -> list[dict]:
        return [
            node("keep", "util.set_variable", {"variables": kept}),
            node("rename", "util.set_variable", {"variables": renamed}),
            node("end", "util.transform", end),
        ]

    circuit = build(world, "variables", nodes({"k": 1}, {"old": 2}, BROKEN), chain("keep", "rename", "end"))
    failed = run(circuit)
    assert failed.vars == {"k": 1, "old": 2}
    publish(world, circuit, nodes({"k": 1}, {"new": 3}, {"template": "{{ vars }}"}), chain("keep", "rename", "end"))
    result = retry(world, failed, RetryVersion.PUBLISHED)
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert kept(result) == ["keep"]
    assert result.vars == {"k": 1, "new": 3}  # no "old": the published version no longer sets it


def test_the_kept_from_entry_is_written_once_naming_where_the_step_ran_also_on_a_retry_of_a_retry(world):
    circuit = build(world, "again", [node("a", "util.transform", {"template": "A"}), node("b", "util.transform", BROKEN)], chain("a", "b"))
    first = run(circuit)
    second = retry(world, first)
    third = retry(world, second)
    for execution in (second, third):
        notes = [entry for entry in execution.steps.get(node_key="a").logs if "from execution" in entry.get("message", "")]
        assert notes == [{"level": "info", "message": f"kept from execution {first.pk}", "copied_from": first.pk}]


def test_a_retry_refuses_an_unknown_version_choice_and_a_circuit_with_nothing_published(world):
    circuit = build(world, "choices", [node("b", "util.transform", BROKEN)], chain("b"))
    failed = run(circuit)
    with pytest.raises(ValidationError) as refused:
        RetryFromFailedStep(world.tenant, world.operator, failed, version="latest").execute()
    assert "version" in refused.value.message_dict
    circuit.versions.filter(status="published").update(status="archived")
    with pytest.raises(ValidationError, match="no published version"):
        RetryFromFailedStep(world.tenant, world.operator, failed, version=RetryVersion.PUBLISHED).execute()
    assert not failed.reruns.exists()


def test_a_step_reading_variables_runs_again_when_a_step_before_it_that_sets_them_changed(world):
    # `use` is no descendant of `setv`, but runs after it and reads what it set: the graph alone would keep its stale output.
    def nodes(value: int, last: dict) -> list[dict]:
        return [
            node("setv", "util.set_variable", {"variables": {"x": value}}),
            node("use", "util.transform", {"template": "x={{ vars.x }}"}),
            node("last", "util.transform", last),
        ]

    edges = [edge("trigger", "setv"), edge("trigger", "use"), edge("use", "last")]
    circuit = build(world, "vars-order", nodes(1, BROKEN), edges)
    failed = run(circuit)
    assert failed.status == ExecutionStatus.FAILED and failed.steps.get(node_key="use").output == "x=1"
    publish(world, circuit, nodes(2, {"template": "{{ steps.use.output }}"}), edges)
    result = retry(world, failed, RetryVersion.PUBLISHED)
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert result.output == "x=2"
    assert kept(result) == []
