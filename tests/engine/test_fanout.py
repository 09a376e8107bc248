"""An event that starts many executions: one bulk INSERT, one worker message, each run exactly once.

Through the real parts: PostgreSQL (the INSERTs are counted), the Redis broker (the messages
are counted on the queue itself before any worker reads it) and two real Celery workers that
share the fan-out out between them (tasks.run_executions halves a big batch back onto the queue).
"""

from __future__ import annotations

import pytest
from celery import current_app
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from circuits.automation.dispatch import send_many_to_worker
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.automation.triggers.kinds.event import publish_event
from circuits.core import queues
from tests.engine.helpers import build, chain, node
from tests.engine.workers import own_queue, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]

FAN_OUT = 100


def listeners(world, count: int, event: str = "invoice.paid") -> None:
    for i in range(count):
        build(
            world,
            f"listener-{i}",
            [node("a", "util.transform", {"template": f"listener {i} saw {{{{ trigger.amount }}}}"})],
            chain("a"),
            triggers=[{"type": "event", "config": {"event": event}}],
        )


def queued_messages(queue: str) -> int:
    with current_app.connection_for_write() as conn:
        return conn.default_channel.client.llen(queue)


def all_finished(ids: list[int]) -> bool:
    return not Execution.objects.filter(pk__in=ids, finished_at__isnull=True).exists()


def test_an_event_starting_a_hundred_executions_inserts_them_at_once_and_sends_one_message_they_run_once_on_two_workers(world, settings):
    queue = own_queue(settings)
    listeners(world, FAN_OUT)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        _event, started = publish_event(world.tenant, "invoice.paid", {"amount": 7})
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "circuits_execution"')]
    assert len(started) == FAN_OUT
    assert len(inserts) == 1  # one bulk INSERT of all hundred
    # One message on the broker for all hundred, on the bulk queue (a fan-out of ENGINE_BULK_FANOUT or more).
    assert queued_messages(queues.queue_for("bulk")) == 1 and queued_messages(queue) == 0
    ids = [e.pk for e in started]
    assert Execution.objects.filter(pk__in=ids, status=ExecutionStatus.QUEUED).count() == FAN_OUT
    # The message delivered twice (a redelivery after a worker died): still nothing runs twice.
    send_many_to_worker(ids, "bulk")
    workers = [start_worker(queue), start_worker(queue)]
    try:
        wait_for(lambda: all_finished(ids), timeout=120, what="the hundred executions to finish")
    finally:
        for worker in workers:
            stop(worker)
    assert Execution.objects.filter(pk__in=ids, status=ExecutionStatus.SUCCEEDED).count() == FAN_OUT
    steps = StepRun.objects.filter(execution_id__in=ids)
    assert steps.count() == FAN_OUT  # exactly one run of the one step each
    assert set(steps.values_list("attempt", flat=True)) == {1}
    outputs = sorted(Execution.objects.filter(pk__in=ids).values_list("output", flat=True))
    assert outputs == sorted(f"listener {i} saw 7" for i in range(FAN_OUT))


def test_an_event_matching_one_trigger_sends_the_single_execution_task(world, settings):
    queue = own_queue(settings)
    listeners(world, 1)
    try:
        _event, started = publish_event(world.tenant, "invoice.paid", {"amount": 1})
        assert len(started) == 1 and queued_messages(queue) == 1
        with current_app.connection_for_write() as conn:
            raw = conn.default_channel.client.lindex(queue, 0)
        assert b"circuits.automation.tasks.run_execution" in raw and b"run_executions" not in raw
    finally:
        with current_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
