"""What one queued execution costs the database: its statements are counted and pinned.

A queued 3-step circuit of pure steps (set → if → stop) goes create → enqueue → claim → steps →
finish in SEVEN statements on PostgreSQL, the work of a Celery worker's `run_execution` done
in this process so the statements can be captured (the worker runs the very same function):

  1. the circuit's published version        (create_execution)
  2. INSERT the execution                   (create_execution)
  3. claim + load, one statement             (lock with skip_locked, take, RETURN it with tenant,
                                             circuit, version and whether it has step rows)
  4–7. BEGIN, the guarded finishing UPDATE, the INSERT of the three buffered step rows, COMMIT

No read of previous steps (the claim said there are none), no lease renewal before the finish
(the guarded UPDATE is the check), no re-read after it, and no completion-trigger look-ups
(answered from the per-process set of listened keys, circuits/automation/triggers/listening.py).
"""

from __future__ import annotations

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext

from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.engine.runner import run_now
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.automation.tasks import run_execution
from tests.engine.helpers import build, chain, edge, node
from tests.engine.workers import own_queue
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]

STATEMENTS_PER_QUEUED_EXECUTION = 7


def three_step(world, slug: str = "three-step"):
    nodes = [
        node("set", "util.set_variable", {"variables": {"n": "{{ trigger.n }}"}}),
        node("check", "control.if", {"condition": "{{ vars.n >= 0 }}"}),
        node("respond", "control.stop", {"output": {"ok": True, "n": "{{ vars.n }}"}}),
    ]
    return build(world, slug, nodes, [*chain("set", "check"), edge("check", "respond", "true")])


def purge(queue: str) -> None:
    with current_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


def test_a_queued_three_step_execution_costs_seven_statements(world, settings):
    queue = own_queue(settings)  # the message goes to a queue no worker reads: this test runs it
    circuit = three_step(world)
    run_execution(create_execution(circuit, {"n": 0}).pk)  # warm: the compiled graph, the listened keys
    try:
        with CaptureQueriesContext(connection) as queries:
            execution = create_execution(circuit, {"n": 41})
            enqueue(execution)
            assert run_execution(execution.pk) == "done"
    finally:
        purge(queue)
    statements = [q["sql"] for q in queries.captured_queries]
    listing = "\n".join(s[:160] for s in statements)
    assert len(statements) == STATEMENTS_PER_QUEUED_EXECUTION, listing
    assert statements[2].startswith("WITH old AS (") and "FOR UPDATE SKIP LOCKED" in statements[2], listing
    assert not any("circuits_steprun" in s and s.startswith("SELECT") for s in statements), listing
    assert sum(s.startswith('INSERT INTO "circuits_steprun"') for s in statements) == 1, listing
    execution = Execution.objects.get(pk=execution.pk)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.output == {"ok": True, "n": 41}
    assert list(StepRun.objects.filter(execution=execution).order_by("pk").values_list("node_key", "status")) == [
        ("set", "succeeded"),
        ("check", "succeeded"),
        ("respond", "succeeded"),
    ]


def test_a_claim_of_an_execution_with_copied_steps_reads_them(world):
    # A retry from the failed step starts queued WITH step rows: the claim says so, the engine reads them.
    circuit = three_step(world, "with-steps")
    first = run_now(create_execution(circuit, {"n": 1}))
    retry = create_execution(circuit, {"n": 1})
    kept = StepRun.objects.get(execution=first, node_key="set")
    kept.pk, kept.execution, kept.output = None, retry, {"n": 1}
    kept.save()
    from circuits.automation.dispatch import claim

    claimed = claim(retry.pk)
    assert claimed is not None and claimed.claimed_without_steps is False
    assert claimed.tenant.pk == world.tenant.pk and claimed.circuit.slug == "with-steps" and claimed.version.status == "published"
    assert claimed.status == ExecutionStatus.RUNNING and claimed.lease_owner is not None and claimed.started_at is not None
    assert claim(retry.pk) is None  # its lease is live
    from circuits.automation.engine.runner import run_claimed

    result = run_claimed(claimed)
    assert result.status == ExecutionStatus.SUCCEEDED
    assert StepRun.objects.filter(execution=retry, node_key="set").count() == 1  # the kept step is not run again


def test_a_completion_trigger_saved_after_the_listened_keys_were_cached_still_fires(world):
    source = three_step(world, "source")
    run_now(create_execution(source, {"n": 1}))  # caches "nobody listens to source" in this process
    build(
        world,
        "follower",
        [node("a", "util.transform", {"template": "after {{ trigger.circuit }}"})],
        chain("a"),
        triggers=[{"type": "circuit_completed", "config": {"circuit": "source"}}],
    )
    run_now(create_execution(source, {"n": 2}))
    started = Execution.objects.filter(circuit__slug="follower")
    assert started.count() == 1 and started.get().status == ExecutionStatus.QUEUED
