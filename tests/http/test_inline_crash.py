"""An inline run survives its web process being killed between steps (#14).

Waited webhook runs happen in the web process and are written once at the end
(circuits/automation/engine/inline.py). These tests SIGKILL a real server while a run is in
a step and prove nothing is lost: a run that had done only pure steps becomes a visible
failed execution (the Redis journal entry, swept by `recover_lost`); a run past a
side-effecting step was already durable, so a worker resumes it and the finished side
effect (a record write) is not repeated.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from circuits.automation.engine import inline
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.automation.tasks import resume_due_executions
from circuits.records.models import Record
from tests.engine.helpers import build, chain, node
from tests.engine.workers import own_queue, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis
from tests.http.conftest import LiveDaphne, launch_server, require_postgres, stop_server
from tests.live import shared_database_url

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]

LEASE = 2  # seconds: a dead run's journal entry and lease lapse quickly
NAME = "inline-crash"
HOOK = {"type": "webhook", "config": {"respond": "wait", "wait_timeout_seconds": 60}}


@pytest.fixture
def server(django_db_setup, django_db_blocker, tmp_path) -> Iterator[LiveDaphne]:
    require_postgres()
    inline.journal.client.delete(inline.journal.entries, inline.journal.expiries)  # entries of earlier runs name other databases' rows
    with django_db_blocker.unblock():
        live = launch_server(NAME, tmp_path, {"ENGINE_LEASE_SECONDS": str(LEASE)})
    yield live
    if live.process.poll() is None:
        stop_server(live)


def deliver_in_background(server: LiveDaphne, token: str, body: dict) -> threading.Thread:
    """POST the delivery from a thread: its answer never comes (the server is killed)."""

    def post() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{server.url}/hooks/{token}", json=body, timeout=60)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def kill(server: LiveDaphne) -> None:
    server.process.send_signal(signal.SIGKILL)  # the server process only: no shutdown of any kind
    server.process.wait(timeout=10)


def waiting_on_lock(conn) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'", [NAME]).fetchone()
    return row[0] > 0


def test_a_run_killed_during_a_pure_step_becomes_a_visible_failed_execution(server, world):
    circuit = build(
        world,
        "crash-pure",
        [
            node("set", "util.set_variable", {"variables": {"who": "{{ trigger.body.name }}"}}),
            node("look", "data.get_records", {"object_type": "lead"}),
            node("answer", "control.stop", {"output": {"hi": "{{ vars.who }}"}}),
        ],
        chain("set", "look", "answer"),
        triggers=[HOOK],
    )
    token = circuit.triggers.get().webhook_token
    with psycopg.connect(shared_database_url()) as locker:
        # The test holds the records table: the run's `look` step blocks on it, between steps
        # of a run that exists only in the server's memory and the journal.
        locker.execute(f'LOCK TABLE "{Record._meta.db_table}" IN ACCESS EXCLUSIVE MODE')
        deliver_in_background(server, token, {"name": "Ada"})
        with psycopg.connect(shared_database_url(), autocommit=True) as watcher:
            wait_for(lambda: waiting_on_lock(watcher), timeout=30, what="the run's step to block on the locked table")
        in_flight = inline.journal.in_flight()
        assert len(in_flight) == 1, in_flight
        assert not Execution.objects.filter(pk=in_flight[0]).exists()  # nothing written yet: one write at the end
        kill(server)
    execution_id = in_flight[0]

    # The sweep (as the beat runs it) records the lost run once its entry's lease lapsed.
    wait_for(lambda: resume_due_executions() is not None and Execution.objects.filter(pk=execution_id).exists(), timeout=LEASE * 10, what="the sweep")
    execution = Execution.objects.for_tenant(world.tenant).get(pk=execution_id)
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error["type"] == inline.LOST_ERROR_TYPE
    assert execution.circuit == circuit and execution.trigger == circuit.triggers.get()
    assert execution.input["body"] == {"name": "Ada"}  # the payload is kept: a retry runs it again
    assert execution.finished_at is not None and not execution.steps.exists()
    assert inline.journal.in_flight() == []
    assert inline.recover_lost() == 0  # recorded once


def test_a_run_killed_after_a_side_effect_is_resumed_without_repeating_it(server, world, settings):
    circuit = build(
        world,
        "crash-effect",
        [
            node("rec", "data.create_record", {"object_type": "lead", "fields": {"email": "{{ trigger.body.email }}"}}),
            node("nap", "util.wait", {"seconds": 3}),
            node("answer", "control.stop", {"output": {"saved": "{{ steps.rec.output.id }}"}}),
        ],
        chain("rec", "nap", "answer"),
        triggers=[HOOK],
    )
    token = circuit.triggers.get().webhook_token
    deliver_in_background(server, token, {"email": "once@example.test"})
    # The record write made the run durable before it ran: its row and its step are there.
    rec = wait_for(lambda: StepRun.objects.filter(execution__circuit=circuit, node_key="rec", status="succeeded").first(), timeout=30, what="the write")
    wait_for(lambda: StepRun.objects.filter(execution=rec.execution, node_key="nap").exists(), timeout=30, what="the next step to start")
    kill(server)
    assert inline.journal.in_flight() == []  # a durable run is the lease's to recover, not the journal's
    execution = Execution.objects.get(pk=rec.execution_id)
    assert execution.status == ExecutionStatus.RUNNING

    # The sweep (as the beat runs it) hands the run to a worker once its lease lapsed.
    worker = start_worker(own_queue(settings, NAME), LEASE, log="inline-crash-worker.log")
    try:
        finished = lambda: resume_due_executions() is not None and Execution.objects.get(pk=execution.pk).is_finished  # noqa: E731
        wait_for(finished, timeout=60, every=1.0, what="the worker to resume the run")
    finally:
        stop(worker)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert Record.objects.filter(tenant=world.tenant, data__email="once@example.test").count() == 1
    assert list(execution.steps.filter(node_key="rec").values_list("attempt", "status")) == [(1, "succeeded")]  # never run again
    assert execution.output == {"saved": rec.output["id"]}
