"""The production shape (`scripts/run.sh` with DEBUG=0 and Redis) serves HTTP and Channels
WebSockets from several uvicorn worker processes, and a step finished anywhere reaches a
socket held by any of them (the Redis channel layer).

Before: one daphne process served everything, so a machine's other cores sat idle for HTTP.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.conf import settings

from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from tests.engine.helpers import build, chain, node
from tests.http.conftest import ROOT, launch_server, require_production_shape, session_cookie, stop_server
from tests.http.wsclient import LiveSocket

pytestmark = pytest.mark.django_db(transaction=True)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _web_workers(run_sh_pid: int) -> list[int]:
    """The uvicorn worker processes of the gunicorn master that run.sh started."""
    for child in _children(run_sh_pid):
        if b"gunicorn" in Path(f"/proc/{child}/cmdline").read_bytes():
            return _children(child)
    return []


@pytest.fixture
def production_shape(django_db_setup, django_db_blocker, tmp_path):
    require_production_shape()
    with django_db_blocker.unblock():
        server = launch_server(
            "prod-shape",
            tmp_path,
            {
                "DEBUG": "0",
                "WEB_CONCURRENCY": "2",
                "CELERY_CONCURRENCY": "1",
                "STATIC_ROOT": str(tmp_path / "static"),
                # The test process publishes live events: the server listens under the same names.
                "CHANNELS_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            },
            command=["bash", str(ROOT / "scripts" / "run.sh")],
        )
    yield server
    stop_server(server)


def test_the_production_shape_runs_two_web_workers_and_a_socket_on_either_gets_a_step_published_elsewhere(production_shape, world):
    deadline = time.monotonic() + 30
    while len(_web_workers(production_shape.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(_web_workers(production_shape.process.pid)) == 2, production_shape.log()

    circuit = build(world, "prod-shape-flow", [node("out", "util.transform", {"template": "x"})], chain("out"))
    execution = create_execution(circuit, {})
    cookie = session_cookie(world.viewer)
    path = f"/ws/t/acme/executions/{execution.pk}/"
    # Two sockets: the workers share the listening socket and whichever accepts first takes it, so
    # with two of them one socket at least is likely on the worker that did not run the step.
    host, port = production_shape.host, production_shape.port
    with LiveSocket(host, port, path, cookie) as one, LiveSocket(host, port, path, cookie) as two:
        for socket in (one, two):
            assert socket.next_event() == {"event": "open"}, (socket.events, production_shape.log())
            snapshot = json.loads(socket.next_event()["data"])
            assert snapshot["kind"] == "execution.snapshot" and snapshot["execution"] == execution.pk
        run_now(execution)  # in this process: its events go through Redis to the server's workers
        for socket in (one, two):
            kinds = []
            while "execution.finished" not in kinds:
                event = socket.next_event(timeout=10)
                assert event["event"] == "message", (event, kinds, production_shape.log())
                kinds.append(json.loads(event["data"])["kind"])
            assert "step.finished" in kinds
