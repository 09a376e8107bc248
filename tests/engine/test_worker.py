"""Executions through real Celery workers on Redis, and a killed worker's execution resumed.

These need a database and a broker that another process can share: PostgreSQL and Redis
(always present in CI, where their absence fails the session).
"""

from __future__ import annotations

import signal
import time

import pytest

from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.automation.tasks import resume_due_executions
from tests.engine.helpers import build, chain, node
from tests.engine.workers import new_queue, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue(settings):
    """A queue of this test's own, so no other worker takes its tasks."""
    name = new_queue()
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    return name


def finished(execution_id: int):
    execution = Execution.objects.get(pk=execution_id)
    return execution if execution.is_finished else None


def test_executions_run_through_a_real_celery_worker(world, queue):
    circuit = build(world, "queued", [node("a", "util.transform", {"template": "{{ trigger.n + 1 }}"})], chain("a"))
    worker = start_worker(queue)
    try:
        ids = []
        for n in range(5):
            execution = create_execution(circuit, {"n": n})
            enqueue(execution)  # autocommit: on_commit fires at once
            ids.append(execution.pk)
        results = [wait_for(lambda pk=pk: finished(pk), what=f"execution {pk}") for pk in ids]
    finally:
        stop(worker)
    assert [r.status for r in results] == [ExecutionStatus.SUCCEEDED] * 5
    assert [r.output for r in results] == [1, 2, 3, 4, 5]


def test_a_killed_workers_execution_is_resumed_without_repeating_finished_steps(world, queue):
    build(world, "side-effect", [node("t", "util.transform", {"template": "child"})], chain("t"))
    circuit = build(
        world,
        "resumable",
        [
            node("effect", "control.subcircuit", {"circuit": "side-effect"}),  # creates a child execution: countable
            node("slow", "util.wait", {"seconds": 3}),
            node("end", "util.transform", {"template": "{{ steps.effect.output.output }} and done"}),
        ],
        chain("effect", "slow", "end"),
    )
    worker = start_worker(queue, lease_seconds=2)
    execution = create_execution(circuit, {})
    enqueue(execution)
    try:
        wait_for(lambda: StepRun.objects.filter(execution=execution, node_key="slow", status="running").exists(), what="the slow step")
    finally:
        stop(worker, signal.SIGKILL)  # dies mid-step: no clean shutdown, no ack
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING
    time.sleep(2.5)  # the dead worker's lease lapses
    replacement = start_worker(queue, lease_seconds=30)
    try:
        assert resume_due_executions() >= 1
        result = wait_for(lambda: finished(execution.pk), timeout=40, what="the resumed execution")
    finally:
        stop(replacement)
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert result.output == "child and done"
    # The finished side effect ran once; the interrupted step ran again as attempt 2.
    assert Execution.objects.filter(parent=execution).count() == 1
    assert list(result.steps.filter(node_key="effect").values_list("status", flat=True)) == ["succeeded"]
    slow = list(result.steps.filter(node_key="slow").order_by("pk").values_list("attempt", "status"))
    assert slow == [(1, "failed"), (2, "succeeded")]
