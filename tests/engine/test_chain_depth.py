"""Runaway chains: executions that start each other through their side effects stop at ENGINE_MAX_CHAIN_DEPTH.

Two circuits on `lead.created` that each create a lead used to run without end. Every
execution now carries its lineage (`caused_by`, `chain_depth`); the start that would be
number 11 in a chain is refused — recorded as a failed execution naming the chain — and the
tenant is notified once. Tested in-process, through a real Celery worker, and in the
embedded mode (`manage.py serve`: in-memory broker, worker inside the web process).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.engine.runner import run_now
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.records.models import Record
from circuits.records.service import CreateRecord
from circuits.tenancy.models.notifications import Notification
from tests.engine.helpers import build, chain, drain, node, run
from tests.engine.test_worker import start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis
from tests.live import free_port, shared_database_url

ROOT = Path(__file__).resolve().parents[2]
CREATE_LEAD = {"object_type": "lead", "fields": {"email": "{{ execution.circuit }}-{{ execution.id }}@chain.test", "last_name": "Chain"}}


def ping_pong(world, *, extra_ping_triggers=()) -> tuple:
    """Two circuits on lead.created that each create a lead (a circuit never fires itself, so they alternate)."""
    on_lead = {"type": "event", "config": {"event": "lead.created"}}
    ping = build(world, "ping", [node("make", "data.create_record", CREATE_LEAD)], chain("make"), triggers=[on_lead, *extra_ping_triggers])
    pong = build(world, "pong", [node("make", "data.create_record", CREATE_LEAD)], chain("make"), triggers=[on_lead])
    return ping, pong


def chain_of(world) -> list[Execution]:
    return list(Execution.objects.filter(tenant=world.tenant).order_by("chain_depth", "pk").select_related("circuit"))


def assert_stopped_at_ten(world, ping, pong) -> None:
    executions = chain_of(world)
    ran = [e for e in executions if e.status == ExecutionStatus.SUCCEEDED]
    refused = [e for e in executions if e.status == ExecutionStatus.FAILED]
    # Exactly ten chained executions ran, alternating, each caused by the one before.
    assert [e.chain_depth for e in ran] == list(range(1, 11))
    assert [e.circuit.slug for e in ran] == ["ping", "pong"] * 5
    assert [e.caused_by_id for e in ran] == [None] + [e.pk for e in ran[:-1]]
    # Then one refusal: recorded, never run, naming the chain and the limit.
    assert len(refused) == 1 and len(executions) == 11
    [stopped] = refused
    assert stopped.circuit == ping and stopped.chain_depth == 11 and stopped.caused_by_id == ran[-1].pk
    assert stopped.started_at is None and not stopped.steps.exists()
    assert stopped.error["type"] == "chain_depth" and stopped.error["limit"] == "ENGINE_MAX_CHAIN_DEPTH" and stopped.error["value"] == 10
    assert "ping → pong → ping" in stopped.error["message"] and "ENGINE_MAX_CHAIN_DEPTH" in stopped.error["message"]
    assert [link["execution"] for link in stopped.error["chain"]] == [e.pk for e in ran]
    # The tenth execution's own write still happened: ten leads, one per execution that ran.
    assert Record.objects.filter(tenant=world.tenant, object_type="lead").count() == 10
    [notification] = Notification.objects.filter(tenant=world.tenant)
    assert notification.level == "error" and notification.execution_id == stopped.pk and notification.user_id is None
    assert notification.link == f"/t/{world.tenant.slug}/executions/{stopped.pk}/"
    assert "Ping" in notification.title and "10 in a chain" in notification.body


def work_through_the_queue(capture, rounds: int = 15) -> None:
    """Like a worker: run what is queued (and what that queues), committing after each round."""
    for _ in range(rounds):
        queued = list(Execution.objects.filter(status=ExecutionStatus.QUEUED).order_by("pk"))
        if not queued:
            return
        with capture(execute=True):
            for execution in queued:
                run_now(execution)


@pytest.mark.django_db
def test_two_circuits_that_create_leads_for_each_other_stop_after_ten_executions(world, django_capture_on_commit_callbacks):
    ping, pong = ping_pong(world)
    with django_capture_on_commit_callbacks(execute=True):
        run(ping)
    work_through_the_queue(django_capture_on_commit_callbacks)
    assert_stopped_at_ten(world, ping, pong)
    assert not Execution.objects.filter(status=ExecutionStatus.QUEUED).exists()


@pytest.mark.django_db
def test_a_fanning_out_chain_is_refused_at_the_limit_with_one_notification(world, settings, django_capture_on_commit_callbacks):
    settings.ENGINE_MAX_CHAIN_DEPTH = 2
    nodes, edges = [node("a", "data.create_record", CREATE_LEAD), node("b", "data.create_record", CREATE_LEAD)], chain("a", "b")
    on_lead = [{"type": "record_change", "config": {"object_type": "lead", "on": ["created"]}}]
    left = build(world, "left", nodes, edges, triggers=on_lead)
    build(world, "right", nodes, edges, triggers=on_lead)
    with django_capture_on_commit_callbacks(execute=True):
        run(left)
    work_through_the_queue(django_capture_on_commit_callbacks)
    by_depth = {depth: [e.status for e in Execution.objects.filter(chain_depth=depth).order_by("pk")] for depth in (1, 2, 3)}
    assert by_depth[1] == ["succeeded"]
    assert by_depth[2] == ["succeeded", "succeeded"]  # left's two leads fired right twice
    assert by_depth[3] == ["failed"] * 4  # right's four leads: every start refused
    assert Notification.objects.filter(tenant=world.tenant).count() == 1  # one per chain, not one per refusal


@pytest.mark.django_db
def test_a_before_save_circuit_that_saves_its_own_type_fails_the_save_at_the_limit(world):
    build(
        world,
        "recursive-before-save",
        [node("again", "data.create_record", CREATE_LEAD)],
        chain("again"),
        triggers=[{"type": "before_save", "config": {"object_type": "lead", "on": ["created"], "budget_seconds": 30}}],
    )
    with pytest.raises(ValidationError) as caught:
        CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.test", "last_name": "Lovelace"}).execute()
    assert "ENGINE_MAX_CHAIN_DEPTH" in str(caught.value)
    assert not Record.objects.exists()  # nothing half-saved at any level


@pytest.mark.django_db(transaction=True)
def test_a_step_with_a_timeout_runs_in_a_helper_thread_and_still_passes_on_its_lineage(world):
    stamp = build(
        world,
        "stamp",
        [node("set", "control.set_record_fields", {"fields": {"source": "stamped"}})],
        chain("set"),
        triggers=[{"type": "before_save", "config": {"object_type": "lead"}}],
    )
    maker = build(world, "maker", [node("make", "data.create_record", CREATE_LEAD, timeout_seconds=30)], chain("make"))
    execution = run(maker)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    [before_save] = Execution.objects.filter(circuit=stamp)
    assert (before_save.caused_by_id, before_save.chain_depth) == (execution.pk, 2)
    assert Record.objects.get().data["source"] == "stamped"


@pytest.mark.django_db
def test_circuits_completing_into_each_other_stop_at_the_same_limit(world, settings):
    settings.ENGINE_MAX_CHAIN_DEPTH = 3

    def after(slug: str) -> list[dict]:
        return [{"type": "circuit_completed", "config": {"circuit": slug}}]

    build(world, "tick", [node("t", "util.transform", {"template": "tick"})], chain("t"), triggers=after("tock"))
    tock = build(world, "tock", [node("t", "util.transform", {"template": "tock"})], chain("t"), triggers=after("tick"))
    run(tock)
    drain()
    depths = list(Execution.objects.order_by("chain_depth").values_list("circuit__slug", "chain_depth", "status"))
    assert depths == [("tock", 1, "succeeded"), ("tick", 2, "succeeded"), ("tock", 3, "succeeded"), ("tick", 4, "failed")]


@pytest.mark.django_db
def test_sub_circuits_keep_their_parents_depth_and_a_manual_run_starts_a_new_chain(world):
    build(world, "child", [node("t", "util.transform", {"template": "child"})], chain("t"))
    parent = build(world, "parent", [node("call", "control.subcircuit", {"circuit": "child"})], chain("call"))
    execution = run(parent)
    child = Execution.objects.get(parent=execution)
    assert (execution.chain_depth, execution.caused_by_id) == (1, None)
    assert (child.chain_depth, child.caused_by_id) == (1, None)
    assert create_execution(parent, {}).chain_depth == 1


# --------------------------------------------------------------------------- real workers


@needs_postgres()
@needs_redis()
@pytest.mark.django_db(transaction=True)
def test_the_ping_pong_chain_stops_at_ten_through_a_real_celery_worker(world, settings):
    settings.CELERY_TASK_DEFAULT_QUEUE = queue = f"test-{uuid.uuid4().hex[:8]}"
    ping, pong = ping_pong(world)
    worker = start_worker(queue)
    try:
        enqueue(create_execution(ping, {}))  # autocommit: sent at once
        wait_for(lambda: Execution.objects.filter(status=ExecutionStatus.FAILED).exists(), timeout=60, what="the refused start")
        wait_for(lambda: Notification.objects.exists(), timeout=10, what="the notification")
        time.sleep(1.0)  # anything still chaining would show up now
    finally:
        stop(worker)
    assert_stopped_at_ten(world, ping, pong)


@needs_postgres()
@pytest.mark.django_db(transaction=True)
def test_the_ping_pong_chain_stops_at_ten_in_the_embedded_mode(world, tmp_path):
    ping, pong = ping_pong(world, extra_ping_triggers=[{"type": "webhook", "config": {}}])
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "circuitos_site.settings_test",
        "DATABASE_URL": shared_database_url(),
        "CELERY_BROKER_URL": "memory://localhost/",  # the embedded broker: the server's own worker runs everything
        "CELERY_QUEUE": f"embedded-{port}",
        "CHANNELS_PREFIX": f"embedded-{port}",
        "DB_CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
    }
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base + "/health"), timeout=60, what=f"the embedded server ({log_path})")
        token = ping.triggers.get(type="webhook").webhook_token
        request = urllib.request.Request(f"{base}/hooks/{token}", data=json.dumps({}).encode(), headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:  # the loopback test server
            assert response.status == 202
        wait_for(lambda: Execution.objects.filter(status=ExecutionStatus.FAILED).exists(), timeout=60, what="the refused start")
        wait_for(lambda: Notification.objects.exists(), timeout=10, what="the notification")
        time.sleep(1.0)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)
    assert_stopped_at_ten(world, ping, pong)
    assert Execution.objects.filter(chain_depth=1).get().trigger_type == "webhook"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # the loopback test server
            return response.status == 200
    except Exception:
        return False
