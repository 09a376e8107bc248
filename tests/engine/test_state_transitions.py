"""Execution state changes live in one place (ExecutionQuerySet): guarded, reported, and announced after commit.

Every transition — claim, renew, park, finish, cancel — is one UPDATE whose WHERE clause
names the state it starts from (and for a runner's transitions its lease token), returns
whether it took effect, and publishes its live event only once its transaction commits.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from circuits.automation.dispatch import claim, create_execution
from circuits.automation.engine.runner import cancel_key, run_now
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun, StepStatus
from circuits.automation.services.executions import CancelExecution
from circuits.core import live
from tests.engine.helpers import build, chain, node

CANCELLED = {"message": "cancelled in a test", "type": "cancelled"}


def simple(world, slug: str = "simple"):
    return build(world, slug, [node("a", "util.transform", {"template": "done"})], chain("a"))


def parking(world, slug: str = "parking"):
    return build(world, slug, [node("nap", "util.wait", {"seconds": 3600}), node("after", "util.transform", {"template": 1})], chain("nap", "after"))


class Rollback(Exception):
    pass


@contextmanager
def listening(execution_id: int) -> Iterator[Callable[[], list[dict]]]:
    """Subscribe to the execution's live group on the real channel layer; call the result (once) to collect what arrived."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    group = live.execution_group(execution_id)
    live.mark_listening([group])  # as a socket does: the publisher skips groups nobody marked
    async_to_sync(layer.group_add)(group, channel)

    def received(quiet: float = 0.5) -> list[dict]:
        assert live.flush(5)
        events: list[dict] = []

        async def drain() -> None:
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), quiet)
                except TimeoutError:
                    return
                events.extend(message["events"] if message["type"] == "circuit.events" else [message["event"]])

        async_to_sync(drain)()
        return events

    try:
        yield received
    finally:
        async_to_sync(layer.group_discard)(group, channel)


# --------------------------------------------------------------------------- guards


@pytest.mark.django_db
def test_a_queued_execution_is_claimed_once(world):
    execution = create_execution(simple(world), {})

    first = claim(execution.pk)
    assert first is not None and first.status == ExecutionStatus.RUNNING and first.lease_owner is not None
    assert claim(execution.pk) is None  # its lease is live: nobody else's to run
    Execution.objects.filter(pk=execution.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = claim(execution.pk)
    assert second is not None and second.lease_owner != first.lease_owner  # a lapsed lease is handed on


@pytest.mark.django_db
def test_renew_park_and_finish_take_effect_only_for_the_runner_holding_the_lease(world):
    claimed = claim(create_execution(simple(world), {}).pk)
    stranger = uuid.uuid4()

    assert not Execution.objects.renew(claimed.pk, stranger)
    assert not Execution.objects.park(claimed, stranger, until=timezone.now(), vars={}, step_count=1)
    assert not Execution.objects.finish(claimed, stranger, status=ExecutionStatus.SUCCEEDED, output="no")
    assert not Execution.objects.finish(claimed, None, status=ExecutionStatus.SUCCEEDED, output="no")
    claimed.refresh_from_db()
    assert claimed.status == ExecutionStatus.RUNNING and claimed.output is None

    assert Execution.objects.renew(claimed.pk, claimed.lease_owner)
    token = claimed.lease_owner
    assert Execution.objects.finish(claimed, token, status=ExecutionStatus.SUCCEEDED, output="yes", vars={"v": 1}, step_count=2)
    assert claimed.status == ExecutionStatus.SUCCEEDED and claimed.lease_owner is None  # the instance follows the row
    # Finished is final: neither a second finish, a park, a renewal nor a cancel changes it.
    assert not Execution.objects.finish(claimed, token, status=ExecutionStatus.FAILED)
    assert not Execution.objects.park(claimed, token, until=timezone.now(), vars={}, step_count=3)
    assert not Execution.objects.renew(claimed.pk, token)
    assert not Execution.objects.cancel(claimed, error=CANCELLED)
    claimed.refresh_from_db()
    assert (claimed.status, claimed.output, claimed.vars, claimed.step_count) == (ExecutionStatus.SUCCEEDED, "yes", {"v": 1}, 2)
    assert claimed.finished_at is not None and claimed.duration_ms is not None


@pytest.mark.django_db
def test_finish_refuses_a_status_that_is_not_final(world):
    claimed = claim(create_execution(simple(world), {}).pk)
    with pytest.raises(ValueError, match="not a finished status"):
        Execution.objects.finish(claimed, claimed.lease_owner, status=ExecutionStatus.WAITING)


@pytest.mark.django_db
def test_a_cancelled_execution_cannot_be_finished_by_its_runner(world):
    claimed = claim(create_execution(simple(world), {}).pk)
    assert Execution.objects.cancel(claimed, error=CANCELLED)
    assert not Execution.objects.cancel(claimed, error=CANCELLED)  # once
    assert not Execution.objects.finish(claimed, claimed.lease_owner, status=ExecutionStatus.SUCCEEDED, output="late")
    claimed.refresh_from_db()
    assert claimed.status == ExecutionStatus.CANCELLED and claimed.output is None and claimed.error == CANCELLED


@pytest.mark.django_db
def test_cancelling_a_parked_execution_closes_its_wait_step_too(world):
    execution = run_now(create_execution(parking(world), {}))
    assert execution.status == ExecutionStatus.WAITING
    assert execution.steps.get(node_key="nap").status == StepStatus.WAITING

    CancelExecution(world.tenant, world.operator, execution).execute()

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED and execution.wait_until is None
    nap = execution.steps.get(node_key="nap")
    assert nap.status == StepStatus.CANCELLED and nap.finished_at is not None and nap.resume_at is None
    assert claim(execution.pk) is None  # nothing wakes it any more


@pytest.mark.django_db
def test_a_runner_finishing_its_execution_as_cancelled_closes_the_wait_steps_too(world):
    # The runner may see the cancel flag before the cancel service has written the row.
    claimed = claim(create_execution(parking(world, "runner-cancels"), {}).pk)
    StepRun.objects.create(execution=claimed, node_key="nap", action="util.wait", status=StepStatus.WAITING, resume_at=timezone.now())

    assert Execution.objects.finish(claimed, claimed.lease_owner, status=ExecutionStatus.CANCELLED, error=CANCELLED)

    assert claimed.steps.get(node_key="nap").status == StepStatus.CANCELLED


@pytest.mark.django_db
def test_a_cancel_that_rolls_back_leaves_the_wait_step_waiting(world):
    execution = run_now(create_execution(parking(world), {}))
    with pytest.raises(Rollback), transaction.atomic():
        assert Execution.objects.cancel(execution, error=CANCELLED)
        raise Rollback
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.WAITING
    assert execution.steps.get(node_key="nap").status == StepStatus.WAITING


# --------------------------------------------------------------------------- live events after commit


@pytest.mark.django_db(transaction=True)
def test_a_committed_cancel_publishes_its_event_once(world):
    execution = create_execution(simple(world), {})
    with listening(execution.pk) as received:
        CancelExecution(world.tenant, world.operator, execution).execute()
        events = received()
    assert [(e["kind"], e["status"]) for e in events] == [("execution.finished", "cancelled")]
    assert events[0]["circuit"] == "simple" and events[0]["error"]["type"] == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_cancel_publishes_nothing(world):
    execution = create_execution(simple(world), {})
    with listening(execution.pk) as received:
        with pytest.raises(Rollback), transaction.atomic():
            assert Execution.objects.cancel(execution, error=CANCELLED)
            raise Rollback
        events = received()
    assert events == []
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_an_execution_run_inside_a_transaction_that_rolls_back_publishes_nothing(world):
    # As a before-save circuit whose save is refused: none of its changes happened, so no page hears of them.
    execution = create_execution(simple(world, "rolled-back"), {})
    with listening(execution.pk) as received:
        with pytest.raises(Rollback), transaction.atomic():
            finished = run_now(execution)
            assert finished.status == ExecutionStatus.SUCCEEDED
            raise Rollback
        events = received()
    assert events == []
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_committed_run_publishes_each_change_once_in_order(world):
    execution = create_execution(simple(world, "committed"), {})
    with listening(execution.pk) as received:
        run_now(execution)
        events = received()
    kinds = [(e["kind"], e.get("node")) for e in events]
    assert kinds == [("execution.started", None), ("step.started", "a"), ("step.finished", "a"), ("execution.finished", None)]
    assert events[-1]["status"] == "succeeded" and events[-1]["output"] == "done"


@pytest.mark.django_db(transaction=True)
def test_parking_publishes_waiting_once_and_a_later_cancel_publishes_finished_once(world):
    execution = create_execution(parking(world, "parks"), {})
    with listening(execution.pk) as received:
        run_now(execution)
        CancelExecution(world.tenant, world.operator, execution).execute()
        events = received()
    lifecycle = [(e["kind"], e["status"]) for e in events if e["kind"].startswith("execution.")]
    assert lifecycle == [("execution.started", "running"), ("execution.waiting", "waiting"), ("execution.finished", "cancelled")]


@pytest.mark.django_db
def test_a_cancel_that_loses_the_race_to_finish_is_refused_and_leaves_no_cancel_flag(world):
    # The service read the execution as running; its runner finished it before the cancel's UPDATE ran.
    claimed = claim(create_execution(simple(world), {}).pk)
    seen_running = Execution.objects.select_related("circuit").get(pk=claimed.pk)
    assert Execution.objects.finish(claimed, claimed.lease_owner, status=ExecutionStatus.SUCCEEDED, output="done")
    with pytest.raises(ValidationError, match="already succeeded"):
        CancelExecution(world.tenant, world.owner, seen_running).execute()
    assert cache.get(cancel_key(seen_running)) is None
    claimed.refresh_from_db()
    assert claimed.status == ExecutionStatus.SUCCEEDED and claimed.output == "done"


@pytest.mark.django_db(transaction=True)
def test_the_log_lines_of_an_execution_run_inside_a_transaction_that_rolls_back_are_not_published_either(world):
    circuit = build(world, "logs-rolled-back", [node("say", "util.log", {"message": "secret {{ trigger.x }}"})], chain("say"))
    execution = create_execution(circuit, {"x": 1})
    with listening(execution.pk) as received:
        with pytest.raises(Rollback), transaction.atomic():
            assert run_now(execution).status == ExecutionStatus.SUCCEEDED
            raise Rollback
        events = received()
    assert events == []


@pytest.mark.django_db(transaction=True)
def test_the_log_lines_of_a_committed_run_are_published_as_they_are_written(world):
    circuit = build(world, "logs-committed", [node("say", "util.log", {"message": "hello {{ trigger.x }}"})], chain("say"))
    execution = create_execution(circuit, {"x": 1})
    with listening(execution.pk) as received:
        run_now(execution)
        events = received()
    kinds = [e["kind"] for e in events]
    assert kinds.index("log") < kinds.index("step.finished"), kinds  # live: before its step finished
    assert any(e["kind"] == "log" and "hello 1" in e.get("message", "") for e in events), events
