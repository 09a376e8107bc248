"""HMAC webhook signatures cover a timestamp, expire, and are accepted once.

The sender computes, with the tenant's webhook_secret:
    X-Circuit-Timestamp: <Unix seconds>
    X-Circuit-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body>
Before: the signature covered the body alone, so a captured delivery could be replayed
forever.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from circuits.automation.models.execution import Execution
from circuits.tenancy.credentials import save_credential
from tests.api.access import assert_problem
from tests.engine.helpers import build, chain, node
from tests.fixtures import needs_redis

SECRET = "whsec-for-tests"


def sign(body: bytes, timestamp: int | str, secret: str = SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"HTTP_X_CIRCUIT_TIMESTAMP": str(timestamp), "HTTP_X_CIRCUIT_SIGNATURE": signature}


@pytest.fixture
def signed_hook(world) -> str:
    save_credential(world.tenant, "hook-secret", "webhook_secret", {"secret": SECRET})
    nodes = [node("out", "util.transform", {"template": "{{ trigger }}"})]
    config = {"auth": "hmac", "secret_credential": "hook-secret"}
    return build(world, "signed-hook", nodes, chain("out"), triggers=[{"type": "webhook", "config": config}]).triggers.get().webhook_token


def _post(client, token: str, body: bytes, headers: dict[str, str]):
    return client.post(f"/hooks/{token}", body, content_type="application/json", **headers)


def test_a_fresh_signed_delivery_is_accepted_once_and_its_replay_is_refused(client, signed_hook):
    body = json.dumps({"order": 1}).encode()
    headers = sign(body, int(time.time()))
    assert _post(client, signed_hook, body, headers).status_code == 202
    replay = assert_problem(_post(client, signed_hook, body, headers), 409)
    assert replay["title"] == "Replayed Delivery" and "once" in replay["detail"]
    # The same content signed again, later, is a new delivery.
    assert _post(client, signed_hook, body, sign(body, int(time.time()) + 1)).status_code == 202
    assert Execution.objects.count() == 2


def test_a_signature_over_the_body_alone_is_refused(client, signed_hook):
    body = b'{"order": 2}'
    body_only = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    problem = assert_problem(_post(client, signed_hook, body, {"HTTP_X_CIRCUIT_SIGNATURE": body_only}), 401)
    assert "X-Circuit-Timestamp" in problem["detail"]
    problem = assert_problem(_post(client, signed_hook, body, {"HTTP_X_CIRCUIT_SIGNATURE": body_only, "HTTP_X_CIRCUIT_TIMESTAMP": str(int(time.time()))}), 401)
    assert '"<timestamp>.<raw body>"' in problem["detail"]
    assert not Execution.objects.exists()


def test_a_timestamp_outside_the_window_is_refused_in_the_past_and_in_the_future(client, signed_hook, settings):
    body = b'{"order": 3}'
    now = int(time.time())
    # 30 s beyond the window: a slow first request on a busy machine must not bring now + 301 back inside it.
    for stamp in (now - 330, now + 330, now - 86_400, 0):
        problem = assert_problem(_post(client, signed_hook, body, sign(body, stamp)), 401)
        assert problem["title"] == "Stale Signature" and "300 s" in problem["detail"]
    assert _post(client, signed_hook, body, sign(body, now - 290)).status_code == 202
    settings.WEBHOOK_SIGNATURE_TOLERANCE_SECONDS = 30
    assert_problem(_post(client, signed_hook, body, sign(body, now - 60)), 401)
    assert Execution.objects.count() == 1


@pytest.mark.parametrize("stamp", ["", "soon", "1.7e9", "-5", "１７００００００００", "9" * 40])
def test_a_missing_or_malformed_timestamp_is_refused(client, signed_hook, stamp):
    body = b"{}"
    headers = sign(body, stamp)
    if not stamp:
        headers.pop("HTTP_X_CIRCUIT_TIMESTAMP")
    assert "X-Circuit-Timestamp" in assert_problem(_post(client, signed_hook, body, headers), 401)["detail"]


def test_the_signature_binds_the_timestamp_and_the_secret(client, signed_hook):
    body = b'{"order": 4}'
    now = int(time.time())
    moved = {**sign(body, now - 10), "HTTP_X_CIRCUIT_TIMESTAMP": str(now)}  # a fresh stamp on an older signature
    assert_problem(_post(client, signed_hook, body, moved), 401)
    assert_problem(_post(client, signed_hook, body, sign(body, now, secret="not-the-secret")), 401)
    assert_problem(_post(client, signed_hook, body + b" ", sign(body, now)), 401)
    assert not Execution.objects.exists()


def test_a_signed_delivery_is_refused_retryably_when_replays_cannot_be_checked(client, signed_hook, settings):
    # A real Redis cache on a port where nothing listens: the check genuinely fails.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    body = b'{"order": 6}'
    problem = assert_problem(_post(client, signed_hook, body, sign(body, int(time.time()))), 503)
    assert "replays" in problem["detail"]
    assert not Execution.objects.exists()


@needs_redis()
def test_a_replay_is_refused_by_another_web_process_too(client, live_daphne, transactional_db, signed_hook):
    # The seen signatures live in the shared cache (Redis), not in one process's memory.
    body = json.dumps({"order": 5}).encode()
    headers = sign(body, int(time.time()))
    assert _post(client, signed_hook, body, headers).status_code == 202
    wire = {"X-Circuit-Timestamp": headers["HTTP_X_CIRCUIT_TIMESTAMP"], "X-Circuit-Signature": headers["HTTP_X_CIRCUIT_SIGNATURE"]}
    response = httpx.post(f"{live_daphne.url}/hooks/{signed_hook}", content=body, headers={"Content-Type": "application/json", **wire}, timeout=20)
    assert response.status_code == 409, response.text
    assert Execution.objects.count() == 1
