"""Structured JSON logs carry the request id, tenant, circuit, execution and step ids from the
web request through the Celery task into the engine, and never a secret.

The web side is this process (Django's test client, with the site's own log formatter on a
handler of the test's); the worker is a real `celery worker` process logging JSON lines to a
file. The webhook is signed with a secret credential and sent with an Authorization header,
and the circuit reads a second credential: none of those values, nor the webhook's address
token, may appear in any line of either process.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time

import pytest
from django.test import Client

from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.core import logs
from circuits.tenancy.credentials import save_credential
from tests.engine.helpers import build, chain, node
from tests.engine.workers import ARTIFACTS, new_queue, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]

WEBHOOK_SECRET = "whsec-never-in-a-log-7f3a9c"
API_TOKEN = "credential-token-never-logged-41d2"
CALLER_AUTHORIZATION = "Bearer caller-token-never-logged-9b8e"
REQUEST_ID = "req-e2e-0001"


@pytest.fixture
def web_log() -> io.StringIO:
    """The site's JSON formatter (settings.LOGGING) on a handler of this test's, at INFO."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    config = logs.formatter(json=True)
    handler.setFormatter(config.pop("()")(**config))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(text: str) -> list[dict]:
    found = []
    for line in text.splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"HTTP_X_CIRCUIT_TIMESTAMP": stamp, "HTTP_X_CIRCUIT_SIGNATURE": signature}


def test_a_webhook_started_executions_log_lines_carry_its_ids_through_the_worker_and_no_secret(world, settings, web_log):
    queue = new_queue()
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    save_credential(world.tenant, "hook-secret", "webhook_secret", {"secret": WEBHOOK_SECRET})
    save_credential(world.tenant, "crm-token", "http_bearer", {"token": API_TOKEN})
    circuit = build(
        world,
        "logged-hook",
        [
            node("note", "util.log", {"message": "lead {{ trigger.body.email }}"}),
            node("tell", "notify.inapp", {"title": "New lead {{ trigger.body.email }}"}),  # side effects: its row exists before it runs
        ],
        chain("note", "tell"),
        triggers=[{"type": "webhook", "config": {"auth": "hmac", "secret_credential": "hook-secret"}}],
    )
    token = circuit.triggers.get().webhook_token
    log_name = f"structured-logs-worker-{queue}.log"
    worker = start_worker(queue, log=log_name, level="INFO", env={"LOG_FORMAT": "json"})
    try:
        body = json.dumps({"email": "ada@example.test"}).encode()
        client = Client()
        # A refused delivery first: Django logs the refusal with the request path, which holds the token.
        refused = client.post(f"/hooks/{token}", body, content_type="application/json", HTTP_AUTHORIZATION=CALLER_AUTHORIZATION)
        assert refused.status_code == 401
        response = client.post(
            f"/hooks/{token}", body, content_type="application/json", HTTP_X_REQUEST_ID=REQUEST_ID, HTTP_AUTHORIZATION=CALLER_AUTHORIZATION, **signed(body)
        )
        assert response.status_code == 202, response.content
        assert response["X-Request-ID"] == REQUEST_ID
        execution_id = response.json()["execution_id"]
        done = wait_for(lambda: Execution.objects.filter(pk=execution_id, status=ExecutionStatus.SUCCEEDED).first(), what="the worker to run it")
    finally:
        stop(worker)
    worker_text = (ARTIFACTS / log_name).read_text(errors="replace")
    worker_lines = lines(worker_text)
    assert worker_lines, worker_text[-2000:]

    # The web side: the accepted delivery's line names the request, tenant, circuit and execution.
    accepted = [line for line in lines(web_log.getvalue()) if line.get("execution_id") == execution_id]
    assert accepted, web_log.getvalue()[-2000:]
    assert {(line["request_id"], line["tenant"], line["circuit"], line["route"]) for line in accepted} == {
        (REQUEST_ID, "acme", "logged-hook", "inbound_webhook")
    }

    # The worker side: the same request id, with the execution's and each step's ids.
    ours = [line for line in worker_lines if line.get("execution_id") == execution_id]
    assert ours, worker_text[-3000:]
    assert all(line["request_id"] == REQUEST_ID and line["tenant"] == "acme" and line["circuit"] == "logged-hook" for line in ours)
    assert any(line["event"] == f"execution {execution_id} succeeded" for line in ours)
    tell = StepRun.objects.get(execution=done, node_key="tell")
    step_lines = [line for line in ours if line.get("step") == "tell" and line.get("step_id") == tell.pk]
    assert step_lines and step_lines[-1]["action"] == "notify.inapp" and step_lines[-1]["level"] == "info"
    assert all(line["logger"] and line["timestamp"] for line in ours)

    everything = web_log.getvalue() + worker_text
    for secret in (WEBHOOK_SECRET, API_TOKEN, CALLER_AUTHORIZATION.split()[1], token):
        assert secret not in everything, f"{secret!r} was logged"
    assert "Unauthorized: /hooks/[redacted]" in web_log.getvalue()  # the refusal is logged, its token masked


def test_secrets_are_masked_in_messages_fields_and_nested_values(web_log):
    logger = logging.getLogger("tests.secrets")
    logger.warning(
        "calling %s with Authorization: Bearer %s and ?api_key=%s",
        "https://api.example.test/x",
        "sk-live-abcdef123456",
        "k-998877",
        extra={"headers": {"Authorization": "Basic dXNlcjpwYXNz", "Accept": "json"}, "credential": {"token": "t-1"}, "secret_credential": "hook-secret"},
    )
    logs.get_logger("tests.secrets").info("webhook", password="hunter22", signature="sha256=" + "ab" * 32, payload={"nested": {"client_secret": "s"}})
    text = web_log.getvalue()
    for leaked in ("sk-live-abcdef123456", "k-998877", "dXNlcjpwYXNz", "t-1", "hunter22", "ab" * 32, '"s"'):
        assert leaked not in text, leaked
    first, second = lines(text)[-2:]
    assert first["headers"] == {"Authorization": "[redacted]", "Accept": "json"}
    assert first["secret_credential"] == "hook-secret"  # a credential's name is no secret
    assert "Bearer [redacted]" in first["event"] and "api_key=[redacted]" in first["event"]
    assert second["payload"] == {"nested": {"client_secret": "[redacted]"}}
