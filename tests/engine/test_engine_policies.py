"""Retries, on-error policies, waits that park, cancel, limits, re-run and retry."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from circuits.automation.models.execution import ExecutionStatus, StepStatus
from circuits.automation.services.executions import CancelExecution, RerunExecution, RetryFromFailedStep
from circuits.automation.services.versions import GraphInvalid, PublishDraft, SaveDraft
from circuits.automation.tasks import resume_due_executions
from tests.engine.helpers import build, chain, edge, node, run

FAILING = {"circuit": "does-not-exist"}  # a sub-circuit call that always fails, for real


@pytest.mark.django_db
def test_a_failing_step_is_retried_with_backoff_then_fails_the_execution(world):
    circuit = build(
        world,
        "retry",
        [node("call", "control.subcircuit", FAILING, retry={"max_attempts": 3, "backoff_seconds": 0.05, "max_backoff_seconds": 0.1})],
        chain("call"),
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.FAILED
    attempts = list(execution.steps.values_list("attempt", "status"))
    assert attempts == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert "no circuit 'does-not-exist'" in execution.error["message"]
    assert execution.error["node"] == "call"


@pytest.mark.django_db
def test_on_error_continue_goes_on_to_the_next_step(world):
    circuit = build(
        world,
        "continue",
        [node("call", "control.subcircuit", FAILING, on_error="continue"), node("after", "util.transform", {"template": "went on"})],
        chain("call", "after"),
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.output == "went on"


@pytest.mark.django_db
def test_on_error_follows_the_error_port_with_the_error_in_context(world):
    circuit = build(
        world,
        "error-port",
        [
            node("call", "control.subcircuit", FAILING, on_error="error_port"),
            node("ok", "util.transform", {"template": "ok"}),
            node("handle", "util.transform", {"template": "handled: {{ steps.call.error.message }}"}),
        ],
        [edge("trigger", "call"), edge("call", "ok"), edge("call", "handle", "error")],
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.output.startswith("handled: no circuit")
    assert not execution.steps.filter(node_key="ok").exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_branches_really_run_at_the_same_time_and_join(world):
    circuit = build(
        world,
        "parallel",
        [
            node("fan", "control.parallel", {"branches": ["a", "b"]}),
            node("wait_a", "util.wait", {"seconds": 1}),
            node("wait_b", "util.wait", {"seconds": 1}),
            node("a_out", "util.transform", {"template": "A"}),
            node("joined", "util.transform", {"template": "{{ steps.fan.output }}"}),
        ],
        [edge("trigger", "fan"), edge("fan", "wait_a", "a"), edge("wait_a", "a_out"), edge("fan", "wait_b", "b"), edge("fan", "joined", "done")],
    )
    started = time.monotonic()
    execution = run(circuit)
    elapsed = time.monotonic() - started
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert elapsed < 1.8, f"two 1-second waits in parallel took {elapsed:.2f}s"
    assert execution.output["a"] == "A" and "waited_until" in execution.output["b"]


@pytest.mark.django_db
def test_a_long_wait_parks_the_execution_and_the_scheduler_resumes_it(world, settings):
    circuit = build(
        world,
        "park",
        [
            node("before", "util.transform", {"template": 1}),
            node("pause", "util.wait", {"seconds": 3600}),
            node("after", "util.transform", {"template": "{{ steps.before.output + 1 }}"}),
        ],
        chain("before", "pause", "after"),
    )
    execution = run(circuit)
    assert execution.status == ExecutionStatus.WAITING
    assert execution.wait_until > timezone.now() + timedelta(minutes=59)
    assert execution.steps.get(node_key="pause").status == StepStatus.WAITING
    # Time passes: the scheduler's resume task finds it due and a worker finishes it.
    execution.steps.filter(node_key="pause").update(resume_at=timezone.now() - timedelta(seconds=1))
    type(execution).objects.filter(pk=execution.pk).update(wait_until=timezone.now() - timedelta(seconds=1))
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from circuitos_site.celery import app

    app.conf.task_always_eager = True
    try:
        assert resume_due_executions() >= 1
    finally:
        app.conf.task_always_eager = False
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == 2
    assert execution.steps.filter(node_key="before").count() == 1  # not repeated


@pytest.mark.django_db
def test_cancelling_a_waiting_execution_stops_it(world):
    circuit = build(world, "cancel", [node("pause", "util.wait", {"seconds": 3600}), node("after", "util.log", {"message": "x"})], chain("pause", "after"))
    execution = run(circuit)
    CancelExecution(world.tenant, world.operator, execution).execute()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert run_now(execution).status == ExecutionStatus.CANCELLED
    with pytest.raises(ValidationError, match="cannot be cancelled"):
        CancelExecution(world.tenant, world.operator, execution).execute()


@pytest.mark.django_db
def test_viewer_cannot_cancel(world):
    from django.core.exceptions import PermissionDenied

    circuit = build(world, "cancel2", [node("pause", "util.wait", {"seconds": 3600})], chain("pause"))
    execution = run(circuit)
    with pytest.raises(PermissionDenied):
        CancelExecution(world.tenant, world.viewer, execution).execute()


@pytest.mark.django_db
def test_the_step_limit_stops_a_runaway_loop_with_a_clear_error(world):
    world.tenant.limits = {"max_steps": 5}
    world.tenant.save()
    circuit = build(
        world,
        "limit",
        [node("each", "control.loop", {"items": "{{ trigger.items }}"}), node("body", "util.transform", {"template": 1})],
        [edge("trigger", "each"), edge("each", "body", "each")],
    )
    execution = run(circuit, {"items": list(range(10))})
    assert execution.status == ExecutionStatus.FAILED
    assert "Governor limit exceeded" in execution.error["message"] and execution.error["limit"] == "max_steps"


@pytest.mark.django_db
def test_loop_iteration_limit_is_enforced(world):
    world.tenant.limits = {"max_loop_iterations": 3}
    world.tenant.save()
    circuit = build(world, "loop-limit", [node("each", "control.loop", {"items": "{{ trigger.items }}"})], chain("each"))
    execution = run(circuit, {"items": [1, 2, 3, 4]})
    assert execution.status == ExecutionStatus.FAILED and "at most 3 iterations" in execution.error["message"]


@pytest.mark.django_db
def test_oversized_payload_is_refused_by_the_payload_limit(world):
    world.tenant.limits = {"max_payload_bytes": 100}
    world.tenant.save()
    circuit = build(world, "payload", [node("x", "util.log", {"message": "hi"})], chain("x"))
    execution = run(circuit, {"blob": "x" * 500})
    assert execution.status == ExecutionStatus.FAILED and execution.error["limit"] == "max_payload_bytes"


@pytest.mark.django_db
def test_sandbox_escape_expression_is_refused_at_save_time_and_at_run_time(world):
    escape = "{{ trigger.__class__.__mro__[1].__subclasses__() }}"
    circuit = build(world, "escape", [node("x", "util.transform", {"template": escape})], chain("x"), publish=False)
    with pytest.raises(GraphInvalid) as caught:
        PublishDraft(world.tenant, world.owner, circuit).execute()
    assert "not allowed" in str(caught.value.graph_errors)
    # Even if such a template reached the engine, the sandbox refuses it.
    version = circuit.versions.get()
    execution = run_now(create_execution(circuit, {}, version=version))
    assert execution.status == ExecutionStatus.FAILED
    assert "sandbox" in execution.error["message"] or "unsafe" in execution.error["message"]


@pytest.mark.django_db
def test_a_cyclic_graph_is_refused_at_publish(world):
    nodes = [node("a", "util.log", {"message": "a"}), node("b", "util.log", {"message": "b"})]
    circuit = build(world, "cycle", nodes, [edge("trigger", "a"), edge("a", "b"), edge("b", "a")], publish=False)
    with pytest.raises(GraphInvalid) as caught:
        PublishDraft(world.tenant, world.owner, circuit).execute()
    assert "cycle" in caught.value.graph_errors[0]["message"]
    assert not circuit.versions.filter(status="published").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("nodes", "edges", "expected"),
    [
        ([node("a", "no.such_action")], [edge("trigger", "a")], "unknown action"),
        ([node("a", "util.log", {})], [edge("trigger", "a")], "message"),
        ([node("a", "util.log", {"message": "{{ 1 + }}"})], [edge("trigger", "a")], "invalid expression"),
        ([node("a", "util.log", {"message": "x"}), node("b", "util.log", {"message": "y"})], [edge("trigger", "a")], "unreachable"),
        (
            [node("a", "control.if", {"condition": "{{ true }}"}), node("b", "util.log", {"message": "y"})],
            [edge("trigger", "a"), edge("a", "b", "maybe")],
            "no port 'maybe'",
        ),
        ([node("a", "util.log", {"message": "x"}, on_error="error_port")], [edge("trigger", "a")], "error port"),
    ],
)
def test_invalid_graphs_are_refused_with_the_offending_node_named(world, nodes, edges, expected):
    circuit = build(world, "bad", nodes, edges, publish=False)
    with pytest.raises(GraphInvalid) as caught:
        PublishDraft(world.tenant, world.owner, circuit).execute()
    assert expected in str(caught.value.graph_errors)
    assert all("node" in e or "edge" in e for e in caught.value.graph_errors)


@pytest.mark.django_db
def test_dangling_edges_are_refused_when_saving_the_draft(world):
    circuit = build(world, "dangling", [node("a", "util.log", {"message": "x"})], [edge("trigger", "a")], publish=False)
    with pytest.raises(ValidationError, match="unknown node 'ghost'"):
        SaveDraft(world.tenant, world.owner, circuit, {"nodes": [node("a", "util.log", {"message": "x"})], "edges": [edge("a", "ghost")]}).execute()


@pytest.mark.django_db
def test_concurrent_draft_edits_are_detected_not_lost(world):
    circuit = build(world, "conflict", [node("a", "util.log", {"message": "x"})], [edge("trigger", "a")], publish=False)
    draft = circuit.versions.get()
    doc = {"nodes": [node("a", "util.log", {"message": "mine"})], "edges": [edge("trigger", "a")]}
    SaveDraft(world.tenant, world.editor, circuit, doc, base_revision=draft.revision).execute()
    with pytest.raises(ValidationError, match="changed by someone else"):
        SaveDraft(world.tenant, world.owner, circuit, doc, base_revision=draft.revision).execute()


@pytest.mark.django_db
def test_rerun_and_retry_from_the_failed_step(world):
    from circuits.automation.models.circuit import Circuit

    target = build(world, "target", [node("t", "util.transform", {"template": "child ok"})], chain("t"))
    circuit = build(
        world,
        "retry-from",
        [node("first", "util.set_variable", {"variables": {"n": 1}}), node("call", "control.subcircuit", {"circuit": "target"})],
        chain("first", "call"),
    )
    Circuit.objects.filter(pk=target.pk).update(enabled=False)
    failed = run(circuit)
    assert failed.status == ExecutionStatus.FAILED
    Circuit.objects.filter(pk=target.pk).update(enabled=True)
    retry = run_now(RetryFromFailedStep(world.tenant, world.operator, failed).execute())
    assert retry.status == ExecutionStatus.SUCCEEDED, retry.error
    assert retry.output["output"] == "child ok"
    assert retry.rerun_of_id == failed.pk
    kept = retry.steps.get(node_key="first")
    assert "kept from execution" in kept.logs[-1]["message"]
    rerun = run_now(RerunExecution(world.tenant, world.operator, retry).execute())
    assert rerun.status == ExecutionStatus.SUCCEEDED and rerun.steps.count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_explicit_step_timeout_fails_the_step_at_its_deadline(world):
    circuit = build(world, "slow-step", [node("nap", "util.wait", {"seconds": 3}, timeout_seconds=0.5)], chain("nap"))
    started = time.monotonic()
    execution = run(circuit)
    assert time.monotonic() - started < 2.5  # did not sit out the 3 seconds
    assert execution.status == ExecutionStatus.FAILED
    assert execution.steps.get(node_key="nap").error["message"] == "timed out after 0.5 seconds"


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_execution_stops_it_between_steps(world):
    import threading

    circuit = build(
        world,
        "cancel-running",
        [node("nap", "util.wait", {"seconds": 2}), node("after", "util.log", {"message": "should not run"})],
        chain("nap", "after"),
    )
    execution = create_execution(circuit, {})
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault("execution", run_now(execution)))
    runner.start()
    deadline = time.monotonic() + 5
    while not execution.steps.filter(node_key="nap").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING
    CancelExecution(world.tenant, world.operator, execution).execute()
    runner.join(timeout=10)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert not execution.steps.filter(node_key="after").exists()
    assert execution.steps.get(node_key="nap").status == "failed"  # interrupted, and it says so
