"""Every write of a running execution is conditional on still owning its lease.

A "stale" engine here is one whose lease another runner took over (its token replaced in
the database, as claim() does after a lapse): whatever it reaches — the end, a park, a
side-effecting step, the bookkeeping of a lost step, the outcome of the step it is in —
it writes nothing and stops. The heartbeat keeps a live runner's lease from lapsing.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models.functions import Now
from django.utils import timezone

from actions.web.tests.server import Reply, echo, serve
from circuits.automation.dispatch import claim, create_execution
from circuits.automation.engine.runner import Engine, run_now
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.automation.tasks import resume_due_executions
from circuits.records.models import Record
from tests.engine.helpers import build, chain, node

THIEF = uuid.UUID("00000000-0000-4000-8000-000000000001")


def steal(execution: Execution) -> None:
    """Another runner owns the execution now."""
    Execution.objects.filter(pk=execution.pk).update(lease_owner=THIEF, lease_until=timezone.now() + timedelta(hours=1))


def claimed(circuit, payload=None) -> Execution:
    execution = claim(create_execution(circuit, payload or {}).pk)
    assert execution is not None and execution.lease_owner is not None
    return execution


def unchanged(execution: Execution) -> Execution:
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING
    assert execution.lease_owner == THIEF
    assert execution.output is None and execution.error is None and execution.finished_at is None
    return execution


@pytest.mark.django_db
def test_claim_draws_a_new_owner_for_each_runner_and_refuses_a_live_lease(world):
    circuit = build(world, "claims", [node("a", "util.transform", {"template": "x"})], chain("a"))
    first = claimed(circuit)
    assert claim(first.pk) is None  # the lease is live: not ours to run
    Execution.objects.filter(pk=first.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = claim(first.pk)
    assert second is not None and second.lease_owner != first.lease_owner


@pytest.mark.django_db
def test_a_stale_engine_does_not_finish_the_execution_nor_write_its_steps_or_vars(world):
    circuit = build(
        world,
        "stale-finish",
        [node("v", "util.set_variable", {"variables": {"seen": "yes"}}), node("a", "util.transform", {"template": "done"})],
        chain("v", "a"),
    )
    execution = claimed(circuit)
    engine = Engine(execution)
    steal(execution)
    engine.run()
    execution = unchanged(execution)
    assert execution.vars == {}
    assert not StepRun.objects.filter(execution=execution).exists()  # the batched pure steps were not written
    assert engine.lease_lost


@pytest.mark.django_db
def test_a_live_engine_finishes_and_lets_go_of_the_lease(world):
    circuit = build(world, "live-finish", [node("a", "util.transform", {"template": "done"})], chain("a"))
    execution = Engine(claimed(circuit)).run()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.output == "done"
    assert execution.lease_owner is None and execution.lease_until is None


@pytest.mark.django_db
def test_a_stale_engine_does_not_park_the_execution(world):
    circuit = build(world, "stale-park", [node("pause", "util.wait", {"seconds": 3600})], chain("pause"))
    execution = claimed(circuit)
    engine = Engine(execution)
    steal(execution)
    engine.run()
    execution = unchanged(execution)
    assert execution.wait_until is None
    assert not StepRun.objects.filter(execution=execution).exists()


@pytest.mark.django_db
def test_a_stale_engine_does_not_start_a_side_effecting_step(world):
    circuit = build(world, "stale-start", [node("rec", "data.create_record", {"object_type": "lead", "fields": {"email": "no@example.test"}})], chain("rec"))
    execution = claimed(circuit)
    engine = Engine(execution)
    steal(execution)
    engine.run()
    unchanged(execution)
    assert not Record.objects.filter(tenant=world.tenant).exists()
    assert not StepRun.objects.filter(execution=execution).exists()


@pytest.mark.django_db
def test_a_stale_engine_leaves_the_bookkeeping_of_a_lost_step_to_the_owner(world):
    circuit = build(world, "stale-lost", [node("rec", "data.create_record", {"object_type": "lead", "fields": {"email": "no@example.test"}})], chain("rec"))
    execution = claimed(circuit)
    lost = StepRun.objects.create(execution=execution, node_key="rec", action="data.create_record", attempt=1, status="running", started_at=timezone.now())
    engine = Engine(execution)
    steal(execution)
    engine.run()
    unchanged(execution)
    lost.refresh_from_db()
    assert lost.status == "running" and lost.error is None
    assert not Record.objects.filter(tenant=world.tenant).exists()


@pytest.mark.django_db(transaction=True)
def test_a_step_whose_lease_was_taken_during_it_writes_no_outcome_and_the_next_step_never_runs(world):
    def taken_over(seen, raw) -> Reply:
        steal(execution)  # while the step is in flight, another runner takes over
        return Reply(200, "{}", "application/json")

    with serve({"/taken": taken_over}) as local:
        world.tenant.outbound_allowlist = [local.allow]
        world.tenant.save(update_fields=["outbound_allowlist"])
        circuit = build(
            world,
            "stale-step",
            [
                node("call", "web.http_request", {"method": "POST", "url": local.url("/taken"), "body_type": "json", "body": {}}),
                node("after", "data.create_record", {"object_type": "lead", "fields": {"email": "after@example.test"}}),
            ],
            chain("call", "after"),
        )
        execution = claimed(circuit)
        Engine(execution).run()
    unchanged(execution)
    assert list(execution.steps.values_list("node_key", "status", "output")) == [("call", "running", None)]
    assert not Record.objects.filter(tenant=world.tenant).exists()


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_the_lease_alive_through_one_long_step(world, settings):
    settings.ENGINE_LEASE_SECONDS = 2
    circuit = build(world, "heartbeat", [node("nap", "util.wait", {"seconds": 4})], chain("nap"))  # inline: under ENGINE_INLINE_WAIT_SECONDS
    execution = create_execution(circuit, {})
    runner = threading.Thread(target=lambda: (run_now(execution), connection.close()))
    runner.start()
    lapsed, swept = [], []
    try:
        while runner.is_alive():
            lapsed.append(Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.RUNNING, lease_until__lt=Now()).exists())
            swept.append(resume_due_executions())
            time.sleep(0.2)
    finally:
        runner.join(timeout=15)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert len(lapsed) >= 15 and not any(lapsed)  # renewed all along: never handed on
    assert not any(swept)


@pytest.mark.django_db
def test_a_step_lost_with_its_worker_runs_again_under_the_same_attempt_and_idempotency_key(world):
    with serve({"/echo": echo}) as local:
        world.tenant.outbound_allowlist = [local.allow]
        world.tenant.save(update_fields=["outbound_allowlist"])
        circuit = build(
            world,
            "lost-call",
            [node("call", "web.http_request", {"method": "POST", "url": local.url("/echo"), "body_type": "json", "body": {}})],
            chain("call"),
        )
        execution = claimed(circuit)
        expected = Engine(execution).idempotency_key("call", "", 1)
        # The worker that ran attempt 1 died mid-step; its lease lapsed; another runner claims it.
        StepRun.objects.create(execution=execution, node_key="call", action="web.http_request", attempt=1, status="running", started_at=timezone.now())
        Execution.objects.filter(pk=execution.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        result = run_now(execution)
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert [r.headers["idempotency-key"] for r in local.requests] == [expected]
    steps = list(result.steps.order_by("pk").values_list("attempt", "status", "error__type"))
    assert steps == [(1, "failed", "worker_lost"), (1, "succeeded", None)]


@pytest.mark.django_db
def test_a_retry_after_a_failure_is_a_new_attempt_with_a_new_key(world):
    answers = iter([Reply(503, "busy"), Reply(200, "{}", "application/json")])
    with serve({"/flaky": lambda seen, raw: next(answers)}) as local:
        world.tenant.outbound_allowlist = [local.allow]
        world.tenant.save(update_fields=["outbound_allowlist"])
        circuit = build(
            world,
            "retried-call",
            [node("call", "web.http_request", {"method": "POST", "url": local.url("/flaky")}, retry={"max_attempts": 2, "backoff_seconds": 0.01})],
            chain("call"),
        )
        result = run_now(create_execution(circuit, {}))
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    keys = [r.headers["idempotency-key"] for r in local.requests]
    assert len(keys) == 2 and keys[0] != keys[1]
