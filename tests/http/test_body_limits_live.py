"""Request bodies against the real server (`manage.py serve`: daphne), over real sockets.

Before: daphne (twisted) stored a whole body in a temporary file before the application saw
the request — a 1 GiB chunked POST to a hook that does not exist grew the temporary folder
by 2 GiB before the 404 — and the API (DRF) read a chunked body (no Content-Length) as empty.
"""

from __future__ import annotations

import json
import select
import socket
import time

import httpx
import pytest
from django.conf import settings

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from tests.api.helpers import make_key
from tests.engine.helpers import build, chain, node

GIB = 1 << 30
CHUNK = 64 * 1024


def _status_and_body(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _read_response(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep and b"content-length:" in head.lower():
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) >= length:
                break
    return data


def test_a_1_gib_chunked_upload_to_an_unknown_hook_is_refused_with_413_before_it_is_stored(live_daphne):
    limit = max(settings.MAX_REQUEST_BODY_BYTES, settings.WEBHOOK_MAX_BODY_BYTES)
    sock = socket.create_connection((live_daphne.host, live_daphne.port))
    sock.sendall(b"POST /hooks/no-such-hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    frame = b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"
    sent, peak_temp, answer = 0, 0, b""
    started = time.monotonic()
    # The body is produced lazily and sending stops the moment the server answers; if it has
    # not answered after 64 MiB it read far past any limit (the old server read all 1 GiB).
    while sent < GIB and sent < 64 * 1024 * 1024:
        readable, writable, _ = select.select([sock], [sock], [], 10)
        if readable:
            answer = _read_response(sock)
            break
        if writable:
            sock.sendall(frame)
            sent += CHUNK
            if sent % (1024 * 1024) == 0:
                peak_temp = max(peak_temp, live_daphne.temp_bytes())
    elapsed = time.monotonic() - started
    sock.close()
    assert answer, f"no answer after {sent:,} bytes: the body was read on past the limit"
    status, headers, body = _status_and_body(answer)
    assert status == 413 and headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413 and f"{limit:,}" in problem["detail"]
    assert sent < limit + 16 * 1024 * 1024 and elapsed < 10
    assert peak_temp <= limit, f"the server held {peak_temp:,} bytes on disk"
    time.sleep(0.2)
    assert live_daphne.temp_bytes() == 0, "the refused body's temporary file was kept"
    assert httpx.get(live_daphne.url + "/health", timeout=10).status_code == 200


def test_a_content_length_above_the_limit_is_refused_at_once_without_100_continue(live_daphne):
    with socket.create_connection((live_daphne.host, live_daphne.port)) as sock:
        sock.sendall(
            b"POST /api/v1/circuits HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = _read_response(sock, timeout=5)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    _status, headers, body = _status_and_body(answer)
    assert headers["content-type"] == "application/problem+json"
    assert "1,073,741,824 bytes" in json.loads(body)["detail"]


def _chunks(data: bytes, size: int = 7):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_chunked_json_sent_to_the_api_by_a_real_client_is_read_and_parsed(live_daphne, transactional_db, world):
    key = make_key(world.tenant, world.owner, "owner")
    body = json.dumps({"name": "Sent in chunks", "description": "no Content-Length"}).encode()
    response = httpx.post(
        live_daphne.url + "/api/v1/circuits",
        content=_chunks(body),  # a generator: httpx sends Transfer-Encoding: chunked
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=20,
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 201, response.text
    assert Circuit.objects.get(tenant=world.tenant, name="Sent in chunks").description == "no Content-Length"


def test_a_chunked_api_body_over_the_limit_gets_413_problem_json(live_daphne, transactional_db, world):
    key = make_key(world.tenant, world.owner, "owner")
    size = settings.MAX_REQUEST_BODY_BYTES + CHUNK
    response = httpx.post(
        live_daphne.url + "/api/v1/circuits",
        content=(b" " * CHUNK for _ in range(size // CHUNK)),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=20,
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:circuitos:problem:payload-too-large"


@pytest.fixture
def live_hook(transactional_db, world):
    nodes = [node("out", "util.transform", {"template": "{{ trigger }}"})]
    circuit = build(world, "live-hook", nodes, chain("out"), triggers=[{"type": "webhook", "config": {}}])
    return circuit.triggers.get().webhook_token


def test_chunked_json_sent_to_a_webhook_reaches_the_execution(live_daphne, live_hook):
    payload = {"email": "ada@example.test", "items": [1, 2, 3]}
    response = httpx.post(
        f"{live_daphne.url}/hooks/{live_hook}", content=_chunks(json.dumps(payload).encode()), headers={"Content-Type": "application/json"}, timeout=20
    )
    assert response.status_code == 202, response.text
    assert Execution.objects.get(pk=response.json()["execution_id"]).input["body"] == payload


def test_a_webhook_allowed_more_than_the_site_wide_limit_receives_its_big_body(live_daphne, transactional_db, world):
    nodes = [node("out", "util.transform", {"template": "{{ trigger.body.items | length }}"})]
    circuit = build(world, "big-hook", nodes, chain("out"), triggers=[{"type": "webhook", "config": {"max_bytes": 8_000_000}}])
    payload = {"items": ["x" * 1000] * 5000}  # ~5 MB: over MAX_REQUEST_BODY_BYTES and Django's 2.5 MB in-memory limit
    raw = json.dumps(payload).encode()
    assert settings.MAX_REQUEST_BODY_BYTES < len(raw) < 8_000_000
    url = f"{live_daphne.url}/hooks/{circuit.triggers.get().webhook_token}"
    response = httpx.post(url, content=raw, headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 202, response.text
    assert len(Execution.objects.get(pk=response.json()["execution_id"]).input["body"]["items"]) == 5000


@pytest.mark.parametrize("query", ["x=%00", "x=a%00b", "%00=1", "x=%ff", "x=%c3%28"])
def test_a_query_string_with_nul_or_invalid_utf8_is_400_problem_json(live_daphne, live_hook, query):
    response = httpx.post(f"{live_daphne.url}/hooks/{live_hook}?{query}", json={"a": 1}, timeout=20)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "NUL" in response.json()["detail"] or "UTF-8" in response.json()["detail"]
    assert not Execution.objects.exists()


def _refused_webhooks(live_daphne, reason: str) -> float:
    """The live server's own count, read from its /metrics (the test connects from the loopback)."""
    text = httpx.get(f"{live_daphne.url}/metrics", timeout=20).text
    wanted = f'circuitos_webhook_rejections_total{{reason="{reason}"}} '
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(wanted))


def test_a_webhook_body_refused_by_the_server_counts_as_a_webhook_rejection(live_daphne):
    before = _refused_webhooks(live_daphne, "payload_too_large")
    with socket.create_connection((live_daphne.host, live_daphne.port)) as sock:
        sock.sendall(b"POST /hooks/no-such-hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n")
        assert _read_response(sock, timeout=5).startswith(b"HTTP/1.1 413 ")
    assert _refused_webhooks(live_daphne, "payload_too_large") == before + 1
