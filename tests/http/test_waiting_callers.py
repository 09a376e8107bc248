"""Callers that wait for an execution's outcome: the wait bounds the answer, never the run.

Before: `POST /execute?wait=true&timeout=1` ran a 4-second circuit in the web process for 4
seconds and then failed it with "Governor limit exceeded" — the caller's patience became the
run's limit. Now a real Celery worker runs it (the web process only watches the row), the
caller gets 202 with where to find it when the wait runs out, and the run finishes in the
worker with its full output. Real daphne, real worker, PostgreSQL + Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from circuits.automation.models.execution import Execution, ExecutionStatus
from tests.api.helpers import make_key
from tests.engine.helpers import build, chain, node
from tests.engine.workers import start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis()]

SLOW = 4.0  # seconds the slow circuit takes (an inline wait: ENGINE_INLINE_WAIT_SECONDS is 5)


@pytest.fixture(scope="module")
def worker(live_daphne, django_db_blocker) -> Iterator[None]:
    """A real Celery worker on the live server's queue, for this module's tests."""
    with django_db_blocker.unblock():
        process = start_worker(live_daphne.queue, log="waiting-callers-worker.log")
    yield
    stop(process)


@pytest.fixture
def key(world, transactional_db) -> str:
    return make_key(world.tenant, world.operator, "operator")


def slow_circuit(world, slug: str = "slow", name: str = "trigger.name", **kwargs):
    return build(
        world,
        slug,
        [node("nap", "util.wait", {"seconds": SLOW}), node("after", "util.transform", {"template": {"done": "{{ " + name + " }}"}})],
        chain("nap", "after"),
        **kwargs,
    )


def finished(execution_id: int) -> Execution | None:
    execution = Execution.objects.get(pk=execution_id)
    return execution if execution.is_finished else None


def execute(live_daphne, key: str, query: str, body: dict) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(f"{live_daphne.url}/api/v1/execute{query}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return response, time.monotonic() - started


def test_a_caller_whose_wait_runs_out_gets_202_and_the_worker_finishes_the_run(live_daphne, worker, world, key):
    slow_circuit(world)
    response, elapsed = execute(live_daphne, key, "?wait=true&timeout=1", {"circuit_name": "slow", "data": {"name": "Ada"}})
    assert response.status_code == 202, response.text
    assert elapsed < SLOW - 1.5  # answered when the wait ran out, not when the run ended
    body = response.json()
    assert body["status"] in ("queued", "running") and body["error"] is None
    assert body["url"] == f"{live_daphne.url}/api/v1/executions/{body['id']}"
    assert response.headers["Location"] == body["url"]

    result = wait_for(lambda: finished(body["id"]), timeout=30, what="the execution to finish in the worker")
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert result.error is None  # no governor limit: the wait was not the run's limit
    assert result.output == {"done": "Ada"}
    # One runner, each step once.
    assert list(result.steps.order_by("pk").values_list("node_key", "attempt", "status")) == [("nap", 1, "succeeded"), ("after", 1, "succeeded")]
    followed = httpx.get(body["url"], headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert followed.status_code == 200 and followed.json()["output"] == {"done": "Ada"}


def test_a_run_that_finishes_within_the_wait_answers_200_with_its_output(live_daphne, worker, world, key):
    build(world, "greeter", [node("greet", "util.transform", {"template": {"hello": "{{ trigger.name }}"}})], chain("greet"))
    response, _ = execute(live_daphne, key, "?wait=true", {"circuit_name": "greeter", "data": {"name": "Ada"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded" and body["output"] == {"hello": "Ada"}
    assert [s["node_key"] for s in body["steps"]] == ["greet"]
    assert "Location" not in response.headers and "url" not in body


def test_a_slow_run_within_a_longer_wait_answers_200_after_it_ran(live_daphne, worker, world, key):
    slow_circuit(world)
    response, elapsed = execute(live_daphne, key, "?wait=true&timeout=20", {"circuit_name": "slow", "data": {"name": "Bo"}})
    assert response.status_code == 200, response.text
    assert response.json()["output"] == {"done": "Bo"} and elapsed >= SLOW


def test_a_run_that_parks_answers_202_while_it_waits(live_daphne, worker, world, key):
    build(world, "sleepy", [node("nap", "util.wait", {"seconds": 3600})], chain("nap"))
    response, elapsed = execute(live_daphne, key, "?wait=true", {"circuit_name": "sleepy"})
    assert response.status_code == 202 and elapsed < 10
    body = response.json()
    assert body["status"] == "waiting" and body["wait_until"] and response.headers["Location"] == body["url"]


def test_a_test_run_of_the_draft_can_be_waited_for(live_daphne, worker, world, transactional_db):
    build(world, "draft-only", [node("greet", "util.transform", {"template": "hi {{ trigger.name }}"})], chain("greet"), publish=False)
    editor = make_key(world.tenant, world.editor, "editor")
    response, _ = execute(live_daphne, editor, "?wait=true", {"circuit_name": "draft-only", "data": {"name": "T"}, "test": True})
    assert response.status_code == 200, response.text
    assert response.json()["is_test"] is True and response.json()["output"] == "hi T"


def test_a_webhook_that_waits_answers_202_when_its_wait_runs_out_and_the_worker_finishes_the_run(live_daphne, worker, world, transactional_db):
    hook = {"type": "webhook", "config": {"respond": "wait", "wait_timeout_seconds": 1}}
    circuit = slow_circuit(world, "slow-hook", name="trigger.body.name", triggers=[hook])
    token = circuit.triggers.get().webhook_token
    started = time.monotonic()
    response = httpx.post(f"{live_daphne.url}/hooks/{token}", json={"name": "Hook"}, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code == 202, response.text
    assert elapsed < SLOW - 1.5
    body = response.json()
    assert body["status"] in ("queued", "running")
    assert body["url"] == f"{live_daphne.url}/api/v1/executions/{body['execution_id']}" == response.headers["Location"]
    result = wait_for(lambda: finished(body["execution_id"]), timeout=30, what="the webhook's execution to finish in the worker")
    assert result.status == ExecutionStatus.SUCCEEDED and result.error is None
    assert result.output == {"done": "Hook"}


def test_a_webhook_that_waits_answers_with_the_output_of_a_quick_run(live_daphne, worker, world, transactional_db):
    circuit = build(
        world,
        "respond",
        [node("answer", "control.stop", {"output": {"greeting": "Hello {{ trigger.body.name }}"}})],
        chain("answer"),
        triggers=[{"type": "webhook", "config": {"respond": "wait"}}],
    )
    token = circuit.triggers.get().webhook_token
    response = httpx.post(f"{live_daphne.url}/hooks/{token}", json={"name": "Ada"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["output"] == {"greeting": "Hello Ada"} and "Location" not in response.headers


def test_a_webhook_that_answers_at_once_says_where_to_find_the_execution(live_daphne, worker, world, transactional_db):
    circuit = build(world, "hook-now", [node("nap", "util.wait", {"seconds": 1}), node("t", "util.transform", {"template": "x"})], chain("nap", "t"),
                    triggers=[{"type": "webhook"}])  # fmt: skip
    token = circuit.triggers.get().webhook_token
    response = httpx.post(f"{live_daphne.url}/hooks/{token}", json={}, timeout=30)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] in ("queued", "running")  # the answer does not wait for the worker
    assert body["url"] == f"{live_daphne.url}/api/v1/executions/{body['execution_id']}" == response.headers["Location"]
    # Let the module's worker finish the run before the test's data is flushed: a run still
    # writing while the tables are truncated deadlocks the teardown.
    assert wait_for(lambda: finished(body["execution_id"]), timeout=30, what="the webhook's execution to finish").status == ExecutionStatus.SUCCEEDED


def test_a_webhook_that_waits_tells_the_anonymous_sender_a_run_failed_without_the_internal_error(live_daphne, worker, world, transactional_db):
    circuit = build(
        world,
        "hook-fails",
        [node("boom", "util.transform", {"template": "{{ trigger.body.n / 0 }}"})],
        chain("boom"),
        triggers=[{"type": "webhook", "config": {"respond": "wait"}}],
    )
    token = circuit.triggers.get().webhook_token
    response = httpx.post(f"{live_daphne.url}/hooks/{token}", json={"n": 7}, timeout=30)
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["status"] == "failed" and body["output"] is None
    assert body["error"]["message"] == "The circuit failed."
    stored = Execution.objects.get(pk=body["execution_id"]).error
    assert stored["message"] != "The circuit failed." and stored["message"] not in response.text  # the members still see it


def test_a_webhook_that_waits_passes_on_a_deliberate_refusal_with_its_authored_message(live_daphne, worker, world, transactional_db):
    refusal = {"status": "failed", "message": "Unknown customer", "output": {"accepted": False}}
    circuit = build(world, "hook-refuses", [node("no", "control.stop", refusal)], chain("no"), triggers=[{"type": "webhook", "config": {"respond": "wait"}}])
    token = circuit.triggers.get().webhook_token
    response = httpx.post(f"{live_daphne.url}/hooks/{token}", json={}, timeout=30)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {"type": "stop", "message": "Unknown customer"}
    assert response.json()["output"] == {"accepted": False}
