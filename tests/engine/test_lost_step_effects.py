"""Effects kept in our own database are applied once, even when their step runs again.

A worker can die after a step's effect committed but before the step's outcome was written.
The next runner then runs the step again under the same attempt and idempotency key; a
sub-circuit start or an in-app notification made under that key must not happen twice.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.tenancy.models.effects import AppliedWrite
from circuits.tenancy.models.notifications import Notification
from tests.engine.helpers import build, chain, node


def lose_the_outcome_of(execution: Execution, node_key: str) -> None:
    """As if the worker died right after the step's effect: outcome unwritten, lease lapsed."""
    StepRun.objects.filter(execution=execution, node_key=node_key).update(status="running", output=None, finished_at=None)
    StepRun.objects.filter(execution=execution).exclude(node_key=node_key).delete()
    lapsed = timezone.now() - timedelta(seconds=1)
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.RUNNING, lease_until=lapsed, output=None, finished_at=None)


@pytest.mark.django_db
def test_a_sub_circuit_step_run_again_after_a_lost_worker_does_not_start_a_second_child(world):
    build(world, "child", [node("t", "util.transform", {"template": "child ran"})], chain("t"))
    parent = build(
        world,
        "parent",
        [node("call", "control.subcircuit", {"circuit": "child"}), node("end", "util.transform", {"template": "{{ steps.call.output.output }}"})],
        chain("call", "end"),
    )
    execution = run_now(create_execution(parent, {}))
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    first_child = Execution.objects.get(parent=execution)

    lose_the_outcome_of(execution, "call")
    again = run_now(execution)

    assert again.status == ExecutionStatus.SUCCEEDED, again.error
    assert again.output == "child ran"
    assert list(Execution.objects.filter(parent=execution).values_list("pk", flat=True)) == [first_child.pk]
    call_steps = list(again.steps.filter(node_key="call").order_by("pk").values_list("attempt", "status", "output__execution_id"))
    assert call_steps == [(1, "failed", None), (1, "succeeded", first_child.pk)]


@pytest.mark.django_db
def test_a_sub_circuit_started_without_waiting_is_not_started_twice(world):
    build(world, "background", [node("t", "util.transform", {"template": "x"})], chain("t"))
    parent = build(world, "fire-and-forget", [node("call", "control.subcircuit", {"circuit": "background", "wait": False})], chain("call"))
    execution = run_now(create_execution(parent, {}))
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error

    lose_the_outcome_of(execution, "call")
    run_now(execution)

    assert Execution.objects.filter(parent=execution).count() == 1


@pytest.mark.django_db
def test_an_in_app_notification_step_run_again_after_a_lost_worker_notifies_once(world):
    circuit = build(world, "notifier", [node("tell", "notify.inapp", {"title": "Lead {{ trigger.n }} is hot"})], chain("tell"))
    execution = run_now(create_execution(circuit, {"n": 7}))
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    first_ids = execution.output["notification_ids"]

    lose_the_outcome_of(execution, "tell")
    again = run_now(execution)

    assert again.status == ExecutionStatus.SUCCEEDED, again.error
    assert list(Notification.objects.filter(tenant=world.tenant).values_list("pk", flat=True)) == first_ids
    assert again.output["notification_ids"] == first_ids
    assert AppliedWrite.objects.filter(tenant=world.tenant, operation="notify").count() == 1


@pytest.mark.django_db
def test_a_retry_after_a_failed_sub_circuit_is_a_new_attempt_that_starts_a_new_child(world):
    # Only a *lost* step re-uses its key; a deliberate retry is new work with a new key.
    build(world, "flaky-child", [node("fail", "control.stop", {"status": "failed", "message": "no"})], chain("fail"))
    parent = build(
        world,
        "retrying-parent",
        [node("call", "control.subcircuit", {"circuit": "flaky-child"}, retry={"max_attempts": 2, "backoff_seconds": 0.01})],
        chain("call"),
    )
    execution = run_now(create_execution(parent, {}))
    assert execution.status == ExecutionStatus.FAILED
    assert Execution.objects.filter(parent=execution).count() == 2
