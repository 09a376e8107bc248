"""Exactly one runner per execution, proven with real Celery workers on PostgreSQL + Redis.

- A step longer than the lease is not handed to a second worker: the heartbeat renews the
  lease while the step runs, with the sweep running all along.
- A worker SIGKILLed mid-step, twenty times over: every execution completes, no record
  write is applied twice, and a re-run HTTP call repeats the same Idempotency-Key.
- A worker whose lease was taken over stops at the next step boundary and writes nothing.
- A webhook that waits is run by a worker, so a killed web process cuts off the caller
  but not the run, and its record write is applied once.

To kill a worker exactly between a record write and the bookkeeping of its step (the
window in which a crash used to repeat the write), without guessing at timings: every new
lead passes a before-save circuit that calls a gate on the local server; while the gate
holds the record write open, the test takes a row lock on the execution (FOR NO KEY
UPDATE: the record's history row may still reference it) and opens the gate; the record
commits, the worker's guarded write of the step's outcome waits on the lock, and the
test kills the worker there.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

import httpx
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from actions.web.tests.server import Reply, serve
from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.automation.tasks import resume_due_executions
from circuits.records.models import Record
from circuits.tenancy.models.effects import AppliedWrite
from tests.engine.helpers import build, chain, node
from tests.engine.workers import ARTIFACTS, new_queue, start_beat, start_web, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]

LEASE = 2  # seconds: the smallest lease the settings allow, so lapses are quick


@pytest.fixture
def queue(settings):
    name = new_queue()
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    return name


def allow_local(world, server) -> None:
    world.tenant.outbound_allowlist = [server.allow]
    world.tenant.save(update_fields=["outbound_allowlist"])


def finished(execution_id: int) -> Execution | None:
    execution = Execution.objects.get(pk=execution_id)
    return execution if execution.is_finished else None


def state(execution_id: int) -> str:
    """What an execution looks like now, for failure messages."""
    e = Execution.objects.get(pk=execution_id)
    steps = list(e.steps.order_by("pk").values_list("node_key", "attempt", "status"))
    return f"execution {e.pk}: {e.status}, owner {e.lease_owner}, lease until {e.lease_until}, steps {steps}"


def step_running(execution_id: int, node_key: str) -> bool:
    return StepRun.objects.filter(execution_id=execution_id, node_key=node_key, status="running").exists()


def lease_lapsed(execution_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT lease_until < now() FROM {Execution._meta.db_table} WHERE id = %s", [execution_id])  # noqa: S608
        return bool(cursor.fetchone()[0])


def sweep_until_claimed(execution_id: int, old_owner, timeout: float = 20) -> None:
    """Run the sweep until another runner has claimed the execution."""

    def claimed() -> bool:
        resume_due_executions()
        time.sleep(0.3)
        execution = Execution.objects.get(pk=execution_id)
        return execution.is_finished or execution.lease_owner not in (None, old_owner)

    wait_for(claimed, timeout=timeout, what=f"execution {execution_id} to be claimed again", every=0)


class RowLock:
    """Holds FOR NO KEY UPDATE on an execution row from a connection of its own."""

    def __init__(self, execution_id: int) -> None:
        db = connection.settings_dict
        self.conn = psycopg.connect(
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None, dbname=db["NAME"]
        )
        self.conn.execute(f"SELECT 1 FROM {Execution._meta.db_table} WHERE id = %s FOR NO KEY UPDATE", [execution_id])  # noqa: S608

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


class Gate:
    """A route of the local server that holds the first request naming a held name until opened."""

    def __init__(self) -> None:
        self.arrived: dict[str, int] = defaultdict(int)
        self.held: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def hold(self, name: str) -> None:
        self.held[name] = threading.Event()

    def open(self, name: str) -> None:
        self.held[name].set()

    def open_all(self) -> None:
        for event in self.held.values():
            event.set()

    def __call__(self, request, raw) -> Reply:
        name = request.query.get("name", [""])[0]
        with self.lock:
            self.arrived[name] += 1
            first = self.arrived[name] == 1
        if first and name in self.held:
            self.held[name].wait(30)
        return Reply(200, "{}", "application/json")


def gated_before_save(world, local) -> None:
    """Every new lead is saved through a before-save circuit that calls the gate (GET /gate?name=<email>)."""
    build(
        world,
        "gated-save",
        [node("gate", "web.http_request", {"url": local.url("/gate"), "query": {"name": "{{ trigger.record.email }}"}})],
        chain("gate"),
        triggers=[{"type": "before_save", "config": {"object_type": "lead", "on": ["created"], "budget_seconds": 20}}],
    )


@contextlib.contextmanager
def killed_after_the_record_write(world, gate: Gate, execution_id: int, email: str) -> Iterator[None]:
    """Inside: the record `email` is committed and the step's outcome waits on a row lock."""
    wait_for(lambda: gate.arrived.get(email), timeout=30, what=lambda: f"the record write of {email}; {state(execution_id)}", every=0.02)
    lock = RowLock(execution_id)
    try:
        gate.open(email)
        wait_for(lambda: leads(world, email), what=f"{email} to be committed", every=0.02)
        yield
    finally:
        lock.release()


def leads(world, email: str) -> int:
    return Record.objects.for_tenant(world.tenant).filter(object_type="lead", data__email=email).count()


# --- (a) a step longer than the lease -----------------------------------------------


def test_a_nine_second_step_under_a_three_second_lease_reaches_the_server_once(world, queue):
    replied_at: list[float] = []

    def slow(seen, raw) -> Reply:
        local.stopping.wait(9)
        replied_at.append(time.time())
        return Reply(200, json.dumps({"ok": True}), "application/json")

    with serve({"/slow": slow}) as local:
        allow_local(world, local)
        circuit = build(
            world,
            "long-step",
            [
                node("call", "web.http_request", {"method": "POST", "url": local.url("/slow"), "body_type": "json", "body": {"n": 1}, "timeout_seconds": 30}),
                node("after", "util.transform", {"template": "after {{ steps.call.output.status }}"}),
            ],
            chain("call", "after"),
        )
        processes = [start_worker(queue, lease_seconds=3, log="lease-a-worker-1.log"), start_worker(queue, lease_seconds=3), start_beat(queue, 1)]
        try:
            execution = create_execution(circuit, {})
            enqueue(execution)
            wait_for(lambda: step_running(execution.pk, "call"), what="the slow step to start")
            seen_while_running = set()
            while not replied_at:  # sweep all along, besides the beat's sweep every second
                resume_due_executions()
                seen_while_running.add(Execution.objects.get(pk=execution.pk).status)
                time.sleep(0.3)
            result = wait_for(lambda: finished(execution.pk), timeout=20, what="the execution to finish")
        finally:
            for process in processes:
                stop(process)

    assert [r.path for r in local.requests] == ["/slow"]  # reached once, not once per lease
    assert seen_while_running == {ExecutionStatus.RUNNING}
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert result.output == "after 200"
    assert list(result.steps.filter(node_key="call").values_list("attempt", "status")) == [(1, "succeeded")]
    assert result.finished_at.timestamp() >= replied_at[0]  # succeeded only after the step had finished


# --- (b) twenty SIGKILLs mid-step ---------------------------------------------------


def test_twenty_workers_killed_mid_step_repeat_no_record_write_and_resend_the_same_key(world, settings):
    """Even rounds kill the worker right after its record write committed; odd ones during its HTTP call."""
    rounds = 20
    release = threading.Event()
    seen: dict[str, list[str]] = defaultdict(list)  # execution n -> Idempotency-Keys received

    def hook(request, raw) -> Reply:
        n = request.query["n"][0]
        key = request.headers.get("idempotency-key", "")
        first = key not in seen[n]
        seen[n].append(key)
        if first and request.query.get("hold") == ["1"]:
            release.wait(30)  # the worker is killed while it waits for this answer
        return Reply(200, json.dumps({"n": n}), "application/json")

    gate = Gate()
    with serve({"/hook": hook, "/gate": gate}) as local:
        allow_local(world, local)
        gated_before_save(world, local)
        circuit = build(
            world,
            "killed",
            [
                node("rec", "data.create_record", {"object_type": "lead", "fields": {"email": "lead{{ trigger.n }}@example.test"}}),
                node(
                    "call",
                    "web.http_request",
                    {
                        "method": "POST",
                        "url": local.url("/hook"),
                        "query": {"n": "{{ trigger.n }}", "hold": "{{ trigger.hold }}"},
                        "body_type": "json",
                        "body": {},
                    },
                ),
                node("done", "util.transform", {"template": "lead {{ steps.rec.output.id }} sent {{ steps.call.output.body.n }}"}),
            ],
            chain("rec", "call", "done"),
        )
        ids: list[int] = []
        previous: tuple[int, object] | None = None  # the execution whose worker was killed last, and its owner then

        # Each worker has a queue of its own, so the next one boots while this one works.
        def boot(n: int) -> tuple[str, object]:
            name = new_queue()
            return name, start_worker(name, lease_seconds=LEASE, log=f"lease-b-worker-{n}.log")

        booted = boot(0)
        worker = None
        try:
            for n in range(rounds + 1):
                settings.CELERY_TASK_DEFAULT_QUEUE, worker = booted
                if n < rounds:
                    booted = boot(n + 1)
                kill_in_record_write = n % 2 == 0
                email = f"lead{n}@example.test"
                if n < rounds:  # queued at once: it starts as soon as the worker is up
                    if kill_in_record_write:
                        gate.hold(email)
                    execution = create_execution(circuit, {"n": n, "hold": 0 if kill_in_record_write else 1})
                    enqueue(execution)
                    ids.append(execution.pk)
                if previous is not None:
                    wait_for(lambda pk=previous[0]: lease_lapsed(pk), what="the dead worker's lease to lapse")
                    sweep_until_claimed(*previous)
                if n == rounds:  # the last worker only finishes what the killed ones left
                    wait_for(lambda pk=previous[0]: finished(pk), timeout=30, what="the last execution")
                    break
                with contextlib.ExitStack() as window:
                    if kill_in_record_write:
                        window.enter_context(killed_after_the_record_write(world, gate, execution.pk, email))
                    else:
                        wait_for(lambda n=n: seen.get(str(n)), timeout=30, what=f"round {n}: the HTTP call", every=0.02)
                    if previous is not None:  # the resumed one finished on this worker first
                        wait_for(lambda pk=previous[0]: finished(pk), timeout=30, what=f"round {n}: the resumed execution {previous[0]}")
                    owner = Execution.objects.get(pk=execution.pk).lease_owner
                    stop(worker, signal.SIGKILL)
                previous = (execution.pk, owner)
        finally:
            release.set()
            gate.open_all()
            for process in (worker, booted[1]):
                if process is not None:
                    stop(process)

    results = list(Execution.objects.filter(pk__in=ids).order_by("pk"))
    assert [r.status for r in results] == [ExecutionStatus.SUCCEEDED] * rounds, [r.error for r in results]
    for n, result in enumerate(results):
        assert leads(world, f"lead{n}@example.test") == 1, f"round {n}: the record write was applied twice"
        record = Record.objects.for_tenant(world.tenant).get(data__email=f"lead{n}@example.test")
        assert result.output == f"lead {record.pk} sent {n}"
        keys = seen[str(n)]
        assert len(set(keys)) == 1 and keys[0], f"round {n}: the re-run sent another key: {keys}"
        rec_steps = list(result.steps.filter(node_key="rec").order_by("pk").values_list("attempt", "status"))
        call_steps = list(result.steps.filter(node_key="call").order_by("pk").values_list("attempt", "status"))
        if n % 2 == 0:  # killed after the record write: the step ran again under the same key
            assert rec_steps == [(1, "failed"), (1, "succeeded")]
            assert len(keys) == 1
        else:  # killed during the HTTP call: it was sent again, with the same key
            assert call_steps == [(1, "failed"), (1, "succeeded")]
            assert len(keys) == 2
    assert len({keys[0] for keys in seen.values()}) == rounds  # one key per execution's step
    assert AppliedWrite.objects.filter(tenant=world.tenant).count() == rounds


# --- (c) a lease taken over -----------------------------------------------------------


def test_a_worker_whose_lease_was_taken_over_stops_at_the_next_step_and_writes_nothing(world, queue):
    answered = threading.Event()

    def slow(seen, raw) -> Reply:
        local.stopping.wait(3)
        answered.set()
        return Reply(200, "{}", "application/json")

    with serve({"/slow": slow}) as local:
        allow_local(world, local)
        circuit = build(
            world,
            "stolen",
            [
                node("call", "web.http_request", {"method": "POST", "url": local.url("/slow"), "body_type": "json", "body": {}}),
                node("after", "data.create_record", {"object_type": "lead", "fields": {"email": "after@example.test"}}),
            ],
            chain("call", "after"),
        )
        log = "lease-c-worker.log"
        worker = start_worker(queue, lease_seconds=LEASE, log=log)
        try:
            execution = create_execution(circuit, {})
            enqueue(execution)
            wait_for(lambda: step_running(execution.pk, "call"), what="the slow step")
            thief = uuid.uuid4()  # another runner takes the execution over, for long
            Execution.objects.filter(pk=execution.pk).update(lease_owner=thief, lease_until=timezone.now() + timedelta(hours=1))
            assert answered.wait(10)
            time.sleep(2 * LEASE)  # time for the old runner to write, if it still would
        finally:
            stop(worker)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING and execution.lease_owner == thief
    assert execution.output is None and execution.finished_at is None
    # The step's outcome was not written; the next step never started; nothing else changed.
    assert list(execution.steps.values_list("node_key", "status")) == [("call", "running")]
    assert leads(world, "after@example.test") == 0
    assert "stops without writing" in (ARTIFACTS / log).read_text()


# --- (d) a webhook that waits, in a web process that dies ----------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def web_process(lease_seconds: int, queue: str, env: dict[str, str] | None = None) -> Iterator[tuple[object, int]]:
    port = _free_port()
    web = start_web(port, lease_seconds, queue, env=env)
    try:
        wait_for(lambda: web.poll() is None and _answers(port), timeout=30, what="the web process to start")
        yield web, port
    finally:
        stop(web, signal.SIGKILL)


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
    except httpx.HTTPError:
        return False
    return True


def test_a_waiting_webhooks_run_outlives_its_killed_web_process_and_writes_its_record_once(world, queue):
    # On the queued path (ENGINE_INLINE_RUNS=0, or no Redis) the web process only watches a
    # waiting webhook's execution (circuits/automation/engine/waiting.py): the worker runs it, so
    # killing the web process mid-run cuts off the caller, not the run. (An inline run killed
    # with its web process: tests/http/test_inline_crash.py.)
    email = "hook@example.test"
    gate = Gate()
    gate.hold(email)
    with serve({"/gate": gate}) as local:
        allow_local(world, local)
        gated_before_save(world, local)
        circuit = build(
            world,
            "hooked",
            [
                node("rec", "data.create_record", {"object_type": "lead", "fields": {"email": "{{ trigger.body.email }}"}}),
                node("done", "util.transform", {"template": "saved {{ steps.rec.output.id }}"}),
            ],
            chain("rec", "done"),
            triggers=[{"type": "webhook", "config": {"respond": "wait", "wait_timeout_seconds": 20}}],
        )
        token = circuit.triggers.get().webhook_token
        worker = start_worker(queue, lease_seconds=LEASE, log="lease-d-worker.log")
        answers: list[object] = []
        try:
            with web_process(LEASE, queue, env={"ENGINE_INLINE_RUNS": "0"}) as (web, port):

                def call() -> None:
                    try:
                        answers.append(httpx.post(f"http://127.0.0.1:{port}/hooks/{token}", json={"email": email}, timeout=30))
                    except httpx.HTTPError as exc:
                        answers.append(exc)

                caller = threading.Thread(target=call)
                caller.start()
                execution = wait_for(lambda: Execution.objects.filter(circuit=circuit).first(), what="the webhook's execution")
                wait_for(lambda: gate.arrived.get(email), timeout=30, what=lambda: f"the record write of {email}; {state(execution.pk)}", every=0.02)
                runner = Execution.objects.get(pk=execution.pk).lease_owner
                stop(web, signal.SIGKILL)  # the web process dies mid-run, its caller cut off
                caller.join(timeout=30)
                gate.open(email)
                result = wait_for(lambda: finished(execution.pk), timeout=30, what=lambda: state(execution.pk))
        finally:
            gate.open_all()
            stop(worker)
    assert isinstance(answers[0], httpx.HTTPError)
    assert runner is not None  # the worker held it while the web process lived
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert leads(world, email) == 1
    record = Record.objects.for_tenant(world.tenant).get(data__email=email)
    assert result.output == f"saved {record.pk}"
    # One runner all along: no step was lost and run again.
    assert list(result.steps.order_by("pk").values_list("node_key", "attempt", "status")) == [("rec", 1, "succeeded"), ("done", 1, "succeeded")]
