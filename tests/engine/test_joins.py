"""Joins: a node with several incoming edges runs once, after every one of them has settled.

An edge is settled when its source ran and left by the edge's port (taken) or by another
port, or never ran at all (dead). A join runs when all its edges are settled and one was
taken; when every one is dead it is skipped, and so is what only it leads to.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.engine.graph import from_document, validate
from circuits.automation.engine.runner import run_now
from circuits.automation.engine.walk import Walk
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun, StepStatus
from circuits.automation.services.executions import RetryFromFailedStep
from circuits.automation.services.versions import GraphInvalid, PublishDraft
from circuits.automation.tasks import resume_due_executions
from tests.engine.helpers import build, chain, edge, node, run
from tests.engine.workers import new_queue, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis

FAILING = {"circuit": "does-not-exist"}  # a sub-circuit step that fails: no such circuit


def order(execution: Execution) -> list[str]:
    """The steps in the order they were written, each as node key + scope."""
    return [f"{s.node_key}{s.scope}" for s in execution.steps.order_by("pk")]


def text(key: str, template) -> dict:
    return node(key, "util.transform", {"template": template})


# --- the issue's case, diamonds, and the order -------------------------------------------


@pytest.mark.django_db
def test_a_join_waits_for_the_parent_that_is_also_a_child_of_its_other_parent(world):
    # a → c, a → b, b → c: c used to run right after a and fail on steps.b.
    circuit = build(
        world,
        "issue-9",
        [text("a", "A"), text("b", "{{ steps.a.output }}B"), text("c", "{{ steps.b.output }}C")],
        [edge("trigger", "a"), edge("a", "c"), edge("a", "b"), edge("b", "c")],
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == "ABC"
    assert order(execution) == ["a", "b", "c"]


@pytest.mark.django_db
def test_a_diamond_runs_its_join_once_after_both_sides(world):
    circuit = build(
        world,
        "diamond",
        [
            text("top", 1),
            text("left", "{{ steps.top.output + 1 }}"),
            text("right_1", "{{ steps.top.output + 10 }}"),
            text("right_2", "{{ steps.right_1.output + 100 }}"),
            text("bottom", "{{ [steps.left.output, steps.right_2.output] }}"),
        ],
        [edge("trigger", "top"), edge("top", "left"), edge("top", "right_1"), edge("right_1", "right_2"), edge("left", "bottom"), edge("right_2", "bottom")],
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == [2, 111]
    assert order(execution) == ["top", "left", "right_1", "right_2", "bottom"]


@pytest.mark.django_db
def test_the_order_is_first_ready_first_run_with_edges_settled_in_the_order_drawn(world):
    # b and c are ready together after a (edges a→c drawn before a→b: c first); d needs b and c,
    # e needs only c, so e is queued when c finishes and runs before d, which waits for b.
    nodes = [text(k, k) for k in ("a", "b", "c", "d", "e", "f")]
    edges = [edge("trigger", "a"), edge("a", "c"), edge("a", "b"), edge("c", "d"), edge("c", "e"), edge("b", "d"), edge("d", "f"), edge("e", "f")]
    circuit = build(world, "order", nodes, edges)
    first, second = run(circuit), run(circuit)
    assert order(first) == ["a", "c", "b", "e", "d", "f"]
    assert order(second) == order(first)
    assert first.output == "f"


@pytest.mark.django_db
def test_a_node_reached_from_the_trigger_and_from_a_parent_waits_for_the_parent(world):
    circuit = build(
        world,
        "trigger-and-parent",
        [text("early", "E"), text("slow_1", "S"), text("slow_2", "{{ steps.slow_1.output }}S"), text("late", "{{ steps.slow_2.output }}L")],
        [edge("trigger", "late"), edge("trigger", "slow_1"), edge("slow_1", "slow_2"), edge("slow_2", "late"), edge("trigger", "early")],
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == "SSL"
    assert order(execution) == ["slow_1", "early", "slow_2", "late"]


@pytest.mark.django_db
def test_a_start_still_runs_when_its_other_parent_left_by_another_port(world):
    # The trigger's edge is always taken: `after` runs although `call` left by its error port.
    circuit = build(
        world,
        "start-and-error",
        [node("call", "control.subcircuit", FAILING, on_error="error_port"), text("handle", "handled"), text("after", "{{ steps.call.status }}")],
        [edge("trigger", "call"), edge("trigger", "after"), edge("call", "after"), edge("call", "handle", "error")],
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert order(execution) == ["call", "after", "handle"]
    assert execution.steps.get(node_key="after").output == "failed"


# --- merges after if / switch / error ports (dead-path elimination) ------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("score", "ran", "skipped"), [(90, ["check", "hot_1", "hot_2", "merge"], "cold"), (10, ["check", "cold", "merge"], "hot_2")])
def test_the_merge_after_if_else_runs_once_after_whichever_side_ran(world, score, ran, skipped):
    circuit = build(
        world,
        f"merge-if-{score}",
        [
            node("check", "control.if", {"condition": "{{ trigger.score >= 80 }}"}),
            text("hot_1", "hot"),
            text("hot_2", "{{ steps.hot_1.output }}!"),
            text("cold", "cold"),
            text("merge", "{{ {'hot': steps.hot_2.status, 'cold': steps.cold.status} }}"),
        ],
        [
            edge("trigger", "check"),
            edge("check", "hot_1", "true"),
            edge("hot_1", "hot_2"),
            edge("check", "cold", "false"),
            edge("hot_2", "merge"),
            edge("cold", "merge"),
        ],
    )
    execution = run(circuit, {"score": score})
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert order(execution) == ran
    # The side that did not run is settled as skipped: no step row, but visible to the merge.
    assert execution.output[skipped.split("_")[0]] == "skipped"
    assert not execution.steps.filter(node_key=skipped).exists()


@pytest.mark.django_db
def test_both_ports_of_an_if_into_one_node_run_it_once(world):
    circuit = build(
        world,
        "if-both-ports",
        [node("check", "control.if", {"condition": "{{ true }}"}), text("after", "once")],
        [edge("trigger", "check"), edge("check", "after", "true"), edge("check", "after", "false")],
    )
    execution = run(circuit)
    assert order(execution) == ["check", "after"]


@pytest.mark.django_db
def test_the_merge_after_a_switch_runs_once_after_the_case_taken(world):
    cases = [{"port": "pro", "equals": "pro"}, {"port": "free", "equals": "free"}]
    circuit = build(
        world,
        "merge-switch",
        [
            node("plan", "control.switch", {"value": "{{ trigger.plan }}", "cases": cases}),
            text("p", "P"),
            text("f", "F"),
            text("d", "D"),
            text("merge", "{{ [steps.p.status, steps.f.status, steps.d.status] }}"),
        ],
        [
            edge("trigger", "plan"),
            edge("plan", "p", "pro"),
            edge("plan", "f", "free"),
            edge("plan", "d", "default"),
            edge("p", "merge"),
            edge("f", "merge"),
            edge("d", "merge"),
        ],
    )
    expected = {
        "pro": ("p", ["succeeded", "skipped", "skipped"]),
        "free": ("f", ["skipped", "succeeded", "skipped"]),
        "gold": ("d", ["skipped", "skipped", "succeeded"]),
    }
    for plan, (ran, statuses) in expected.items():
        execution = run(circuit, {"plan": plan})
        assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
        assert order(execution) == ["plan", ran, "merge"], plan
        assert execution.output == statuses


@pytest.mark.django_db
@pytest.mark.parametrize(("target", "expected"), [("does-not-exist", ["call", "handle", "join"]), ("child", ["call", "ok", "join"])])
def test_a_join_after_an_error_port_runs_whichever_way_the_step_left(world, target, expected):
    build(world, "child", [text("t", "child ran")], chain("t"))
    circuit = build(
        world,
        f"join-error-{target}",
        [
            node("call", "control.subcircuit", {"circuit": target}, on_error="error_port"),
            text("ok", "ok"),
            text("handle", "handled"),
            text("join", "{{ steps.ok.status }}/{{ steps.handle.status }}"),
        ],
        [edge("trigger", "call"), edge("call", "ok"), edge("call", "handle", "error"), edge("ok", "join"), edge("handle", "join")],
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert order(execution) == expected
    assert execution.output == ("skipped/succeeded" if target == "does-not-exist" else "succeeded/skipped")


@pytest.mark.django_db
def test_a_join_whose_every_parent_is_dead_does_not_run_nor_what_only_it_leads_to(world):
    circuit = build(
        world,
        "all-dead",
        [
            node("check", "control.if", {"condition": "{{ trigger.go }}"}),
            text("a", "A"),
            text("b", "B"),
            text("join", "{{ steps.a.output }}{{ steps.b.output }}"),
            text("after_join", "only after join"),
            text("other", "other"),
            text("last", "{{ steps.join.status }} / {{ steps.after_join.status }} / {{ steps.other.status }}"),
        ],
        [
            edge("trigger", "check"),
            edge("check", "a", "true"),
            edge("check", "b", "true"),
            edge("check", "other", "false"),
            edge("a", "join"),
            edge("b", "join"),
            edge("join", "after_join"),
            edge("after_join", "last"),
            edge("other", "last"),
        ],
    )
    skipped = run(circuit, {"go": False})
    assert skipped.status == ExecutionStatus.SUCCEEDED, skipped.error
    assert order(skipped) == ["check", "other", "last"]
    assert skipped.output == "skipped / skipped / succeeded"

    taken = run(circuit, {"go": True})
    assert order(taken) == ["check", "a", "b", "join", "after_join", "last"]
    assert taken.output == "succeeded / succeeded / skipped"


@pytest.mark.django_db
def test_a_circuit_whose_only_paths_are_all_dead_succeeds_with_the_last_step_that_ran(world):
    circuit = build(
        world,
        "nothing-after",
        [node("check", "control.if", {"condition": "{{ false }}"}), text("a", "A"), text("join", "J")],
        [edge("trigger", "check"), edge("check", "a", "true"), edge("a", "join"), edge("check", "join", "true")],
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert order(execution) == ["check"]
    assert execution.output == {"result": False}


# --- containers: joins inside bodies, and joins after a container -------------------------


@pytest.mark.django_db
def test_a_merge_inside_a_loop_body_joins_per_iteration_and_never_sees_the_last_iterations_steps(world):
    circuit = build(
        world,
        "loop-merge",
        [
            node("each", "control.loop", {"items": "{{ trigger.items }}"}),
            node("parity", "control.if", {"condition": "{{ loop.item % 2 == 0 }}"}),
            text("even", "even {{ loop.item }}"),
            text("odd_1", "odd"),
            text("odd_2", "{{ steps.odd_1.output }} {{ loop.item }}"),
            text("merge", "{{ steps.even.output if steps.even.status == 'succeeded' else steps.odd_2.output }}"),
        ],
        [
            edge("trigger", "each"),
            edge("each", "parity", "each"),
            edge("parity", "even", "true"),
            edge("parity", "odd_1", "false"),
            edge("odd_1", "odd_2"),
            edge("even", "merge"),
            edge("odd_2", "merge"),
        ],
    )
    execution = run(circuit, {"items": [2, 3, 4]})
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    # Without skipped markers, iteration 1 would have seen iteration 0's `even` and said "even 2".
    assert execution.output == {"count": 3, "results": ["even 2", "odd 3", "even 4"]}
    # A container's step is written when it starts, before its body's.
    assert order(execution) == [
        "each",
        "parity/each[0]",
        "even/each[0]",
        "merge/each[0]",
        "parity/each[1]",
        "odd_1/each[1]",
        "odd_2/each[1]",
        "merge/each[1]",
        "parity/each[2]",
        "even/each[2]",
        "merge/each[2]",
    ]


@pytest.mark.django_db
def test_a_diamond_inside_a_parallel_branch_joins_within_that_branch(world):
    circuit = build(
        world,
        "parallel-diamond",
        [
            node("fan", "control.parallel", {"branches": ["a", "b"]}),
            text("a_top", 1),
            text("a_left", "{{ steps.a_top.output + 1 }}"),
            text("a_right_1", "{{ steps.a_top.output + 2 }}"),
            text("a_right_2", "{{ steps.a_right_1.output * 10 }}"),
            text("a_join", "{{ steps.a_left.output + steps.a_right_2.output }}"),
            text("b_only", "B"),
            text("after", "{{ steps.fan.output }}"),
        ],
        [
            edge("trigger", "fan"),
            edge("fan", "a_top", "a"),
            edge("a_top", "a_left"),
            edge("a_top", "a_right_1"),
            edge("a_right_1", "a_right_2"),
            edge("a_left", "a_join"),
            edge("a_right_2", "a_join"),
            edge("fan", "b_only", "b"),
            edge("fan", "after", "done"),
        ],
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == {"a": 32, "b": "B"}
    branch_a = [k for k in order(execution) if k.endswith("/fan.a")]
    assert branch_a == ["a_top/fan.a", "a_left/fan.a", "a_right_1/fan.a", "a_right_2/fan.a", "a_join/fan.a"]
    assert order(execution)[0] == "fan" and order(execution)[-1] == "after"


@pytest.mark.django_db
def test_a_join_after_a_container_waits_for_its_done_port(world):
    circuit = build(
        world,
        "join-after-loop",
        [
            node("each", "control.loop", {"items": [1, 2]}),
            text("body", "{{ loop.item * 10 }}"),
            text("beside_1", "beside"),
            text("beside_2", "{{ steps.beside_1.output }}!"),
            text("join", "{{ steps.each.output.results }} {{ steps.beside_2.output }}"),
        ],
        [
            edge("trigger", "each"),
            edge("trigger", "beside_1"),
            edge("each", "body", "each"),
            edge("each", "join", "done"),
            edge("beside_1", "beside_2"),
            edge("beside_2", "join"),
        ],
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == "[10, 20] beside!"
    assert order(execution) == ["each", "body/each[0]", "body/each[1]", "beside_1", "beside_2", "join"]


@pytest.mark.django_db
def test_a_join_inside_a_nested_loop_counts_only_edges_of_its_own_body(world):
    # The inner loop's body joins per inner iteration; the outer body's join waits for the
    # inner loop's done and for its sibling, once per outer iteration.
    circuit = build(
        world,
        "nested-joins",
        [
            node("outer", "control.loop", {"items": ["x", "y"]}),
            node("inner", "control.loop", {"items": [1, 2]}),
            text("i_a", "{{ loop.item }}"),
            text("i_b_1", "{{ loop.item }}"),
            text("i_b_2", "{{ steps.i_b_1.output * 2 }}"),
            text("i_join", "{{ steps.i_a.output + steps.i_b_2.output }}"),
            text("sibling_1", "{{ loops.outer.item }}"),
            text("sibling_2", "{{ steps.sibling_1.output }}:"),
            text("o_join", "{{ steps.sibling_2.output }}{{ steps.inner.output.results }}"),
        ],
        [
            edge("trigger", "outer"),
            edge("outer", "inner", "each"),
            edge("outer", "sibling_1", "each"),
            edge("inner", "i_a", "each"),
            edge("inner", "i_b_1", "each"),
            edge("i_a", "i_join"),
            edge("i_b_1", "i_b_2"),
            edge("i_b_2", "i_join"),
            edge("inner", "o_join", "done"),
            edge("sibling_1", "sibling_2"),
            edge("sibling_2", "o_join"),
        ],
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output["results"] == ["x:[3, 6]", "y:[3, 6]"]
    steps = order(execution)
    assert steps.count("o_join/outer[0]") == 1 and steps.count("o_join/outer[1]") == 1
    inner_joins = [s for s in steps if s.startswith("i_join")]
    assert inner_joins == [f"i_join/outer[{o}]/inner[{i}]" for o in (0, 1) for i in (0, 1)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("edges", "message"),
    [
        # A body node may not lead out of its body into a join after the container.
        (
            [edge("trigger", "each"), edge("each", "body", "each"), edge("each", "join", "done"), edge("body", "join")],
            "node 'join' is both inside the body of 'each' and after it",
        ),
        # Nor may a node outside the body feed a join inside it.
        (
            [edge("trigger", "each"), edge("trigger", "outside"), edge("each", "body", "each"), edge("each", "join", "done"), edge("outside", "body")],
            "node 'body' in the body of 'each' is entered from outside it ('outside')",
        ),
    ],
)
def test_joins_across_a_loops_body_are_refused_at_publish(world, edges, message):
    nodes = [node("each", "control.loop", {"items": [1]}), text("body", "b"), text("outside", "o"), text("join", "j")]
    if not any(e["source"] == "outside" or e["target"] == "outside" for e in edges):
        nodes = [n for n in nodes if n["key"] != "outside"]
    circuit = build(world, "across-body", nodes, edges, publish=False)
    with pytest.raises(GraphInvalid) as caught:
        PublishDraft(world.tenant, world.owner, circuit).execute()
    assert message in [e["message"] for e in caught.value.graph_errors]


@pytest.mark.django_db
def test_two_parallel_branches_cannot_share_a_join_they_meet_on_done(world):
    nodes = [node("fan", "control.parallel", {"branches": ["a", "b"]}), text("x", "x"), text("y", "y"), text("join", "j")]
    edges = [edge("trigger", "fan"), edge("fan", "x", "a"), edge("fan", "y", "b"), edge("x", "join"), edge("y", "join")]
    circuit = build(world, "shared-branch", nodes, edges, publish=False)
    with pytest.raises(GraphInvalid) as caught:
        PublishDraft(world.tenant, world.owner, circuit).execute()
    errors = caught.value.graph_errors
    assert errors == [{"message": "node 'join' is in more than one branch of 'fan'; branches join on its 'done' port", "node": "join"}]


@pytest.mark.django_db
def test_a_cycle_that_slipped_past_validation_fails_the_execution_instead_of_ending_quietly(world):
    # Publishing refuses cycles; a draft run straight through the engine must not "succeed".
    nodes = [text("a", "A"), text("b", "B"), text("c", "C")]
    circuit = build(world, "cycle-run", nodes, [edge("trigger", "a"), edge("a", "b"), edge("b", "c"), edge("c", "b")], publish=False)
    execution = run_now(create_execution(circuit, {}, version=circuit.versions.get(status="draft"), is_test=True))
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error["message"] == "steps 'b', 'c' never became ready: the graph has a cycle"
    assert order(execution) == ["a"]


def test_a_region_holds_only_the_edges_between_its_own_nodes():
    graph = from_document(
        {
            "nodes": [
                {"key": "each", "action": "control.loop", "config": {"items": [1]}},
                {"key": "b1", "action": "util.log", "config": {"message": "x"}},
                {"key": "b2", "action": "util.log", "config": {"message": "x"}},
                {"key": "after", "action": "util.log", "config": {"message": "x"}},
            ],
            "edges": [
                {"source": "trigger", "target": "each"},
                {"source": "each", "port": "each", "target": "b1"},
                {"source": "each", "port": "each", "target": "b2"},
                {"source": "b1", "target": "b2"},
                {"source": "each", "port": "done", "target": "after"},
            ],
        }
    )
    assert validate(graph) == []
    top = graph.region(graph.starts)
    assert top.nodes == {"each", "after"} and top.incoming == {"each": 0, "after": 1}
    body = graph.region(graph.targets("each", "each"))
    assert body.nodes == {"b1", "b2"} and body.incoming == {"b1": 0, "b2": 1}
    walk = Walk(body)
    assert walk.next() == "b1" and walk.next() is None  # b2 is a start, but it waits for b1
    assert walk.settle("b1", "next") == [] and walk.next() == "b2"


# --- resume mid-join: a finished parent is never run again --------------------------------


def mid_join_circuit(world, wait_seconds: float):
    """start → effect (a sub-circuit: countable) → join, and start → prep → pause (a wait) → join.

    The wait is one step further from the start than the effect, so a walk that ran a node as
    soon as one parent finished would run `join` before `pause`.
    """
    build(world, "side-effect", [text("t", "child")], chain("t"))
    return build(
        world,
        f"mid-join-{int(wait_seconds)}",
        [
            text("start", "go"),
            node("effect", "control.subcircuit", {"circuit": "side-effect"}),
            text("prep", "prep"),
            node("pause", "util.wait", {"seconds": wait_seconds}),
            text("join", "{{ steps.effect.output.output }} and {{ steps.pause.status }}"),
        ],
        [
            edge("trigger", "start"),
            edge("start", "effect"),
            edge("start", "prep"),
            edge("effect", "join"),
            edge("prep", "pause"),
            edge("pause", "join"),
        ],
    )


@pytest.mark.django_db
def test_a_join_parked_on_one_parent_resumes_without_running_the_finished_parent_again(world):
    circuit = mid_join_circuit(world, 3600)
    execution = run(circuit)
    assert execution.status == ExecutionStatus.WAITING, execution.error
    assert not execution.steps.filter(node_key="join").exists()  # it waits for the parked parent
    assert execution.steps.get(node_key="pause").status == StepStatus.WAITING

    past = timezone.now() - timedelta(seconds=1)
    execution.steps.filter(node_key="pause").update(resume_at=past)
    Execution.objects.filter(pk=execution.pk).update(wait_until=past)
    resumed = run_now(execution)

    assert resumed.status == ExecutionStatus.SUCCEEDED, resumed.error
    assert resumed.output == "child and succeeded"
    assert order(resumed) == ["start", "effect", "prep", "pause", "join"]
    assert Execution.objects.filter(parent=execution).count() == 1  # the side effect happened once


@pytest.mark.django_db
def test_retrying_a_failed_join_reuses_both_parents_and_runs_only_the_join(world):
    build(world, "effect", [text("t", "effect ran")], chain("t"))
    target = build(world, "target", [text("t", "target ran")], chain("t"))
    circuit = build(
        world,
        "retry-join",
        [
            node("left", "control.subcircuit", {"circuit": "effect"}),
            text("right_1", "R"),
            text("right_2", "{{ steps.right_1.output }}R"),
            node("join", "control.subcircuit", {"circuit": "target", "input": {"from": "{{ steps.left.output.output }} {{ steps.right_2.output }}"}}),
        ],
        [edge("trigger", "left"), edge("trigger", "right_1"), edge("right_1", "right_2"), edge("left", "join"), edge("right_2", "join")],
    )
    Circuit.objects.filter(pk=target.pk).update(enabled=False)
    failed = run(circuit)
    assert failed.status == ExecutionStatus.FAILED and failed.error["node"] == "join"
    Circuit.objects.filter(pk=target.pk).update(enabled=True)

    retry = run_now(RetryFromFailedStep(world.tenant, world.operator, failed).execute())

    assert retry.status == ExecutionStatus.SUCCEEDED, retry.error
    assert retry.output["output"] == "target ran"
    assert order(retry) == ["left", "right_1", "right_2", "join"]
    children = Execution.objects.filter(parent__in=[failed, retry])
    assert sorted(children.values_list("circuit__slug", flat=True)) == ["effect", "target"]  # `left` ran once, in the first run
    assert Execution.objects.get(parent=retry).input == {"from": "effect ran RR"}


@pytest.fixture
def queue(settings):
    name = new_queue()
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    return name


@needs_postgres()
@needs_redis()
@pytest.mark.django_db(transaction=True)
def test_a_worker_lost_mid_join_is_resumed_by_another_worker_and_the_join_runs_once(world, queue):
    circuit = mid_join_circuit(world, 3)
    worker = start_worker(queue, lease_seconds=2)
    execution = create_execution(circuit, {})
    enqueue(execution)
    try:
        wait_for(lambda: StepRun.objects.filter(execution=execution, node_key="pause", status="running").exists(), what="the pause step")
    finally:
        stop(worker, signal.SIGKILL)  # dies inside the second parent of the join
    assert StepRun.objects.filter(execution=execution, node_key="effect", status="succeeded").exists()
    assert not StepRun.objects.filter(execution=execution, node_key="join").exists()
    time.sleep(2.5)  # the dead worker's lease lapses
    replacement = start_worker(queue, lease_seconds=30)
    try:
        assert resume_due_executions() >= 1
        result = wait_for(lambda: (e := Execution.objects.get(pk=execution.pk)).is_finished and e, timeout=40, what="the resumed execution")
    finally:
        stop(replacement)
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert result.output == "child and succeeded"
    assert Execution.objects.filter(parent=execution).count() == 1
    assert list(result.steps.filter(node_key="effect").values_list("status", flat=True)) == ["succeeded"]
    assert list(result.steps.filter(node_key="pause").order_by("pk").values_list("attempt", "status")) == [(1, "failed"), (2, "succeeded")]
    assert list(result.steps.filter(node_key="join").values_list("status", flat=True)) == ["succeeded"]


@pytest.mark.django_db
def test_inside_a_loop_the_body_of_a_skipped_or_empty_inner_loop_never_shows_the_previous_iterations_output(world):
    # Iteration 0 runs the inner loop's `x`; iteration 1 skips the inner loop (its `if` is false), iteration 2 runs it over nothing.
    circuit = build(
        world,
        "nested-stale",
        [
            node("outer", "control.loop", {"items": "{{ trigger.rows }}"}),
            node("has", "control.if", {"condition": "{{ loop.item.run }}"}),
            node("inner", "control.loop", {"items": "{{ loops.outer.item.values }}"}),
            text("x", "x{{ loop.item }}"),
            text("report", "{{ steps.x.status }}:{{ steps.x.output or '' }}"),
        ],
        [
            edge("trigger", "outer"),
            edge("outer", "has", "each"),
            edge("has", "inner", "true"),
            edge("inner", "x", "each"),
            edge("has", "report", "false"),
            edge("inner", "report", "done"),
        ],
    )
    execution = run(circuit, {"rows": [{"run": True, "values": [1]}, {"run": False}, {"run": True, "values": []}]})
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output["results"] == ["succeeded:x1", "skipped:", "skipped:"]
