"""A live `manage.py serve` (daphne, as in production) for the HTTP and WebSocket edge tests.

The server runs in a subprocess on a free port against the test database (tests that use it
take `transactional_db`, so what they create is committed and visible to it), with its own
TMPDIR so the tests can see what it writes to disk, and — with REDIS_URL — the Redis
channel layer, as in production. No embedded worker: executions it enqueues go to a queue of
its own (`LiveDaphne.queue`) and stay there, unless a test starts a real Celery worker on it
(tests/engine/workers.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

from tests.fixtures import IN_CI
from tests.live import free_port, shared_database_url

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class LiveDaphne:
    host: str
    port: int
    process: subprocess.Popen
    log_path: Path
    tmpdir: Path
    queue: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def temp_bytes(self) -> int:
        """Bytes the server holds in its temporary folder, counting files it opened and
        already unlinked (tempfile.TemporaryFile leaves no name in the folder)."""
        total = sum(p.stat().st_size for p in self.tmpdir.rglob("*") if p.is_file())
        fd_dir = Path(f"/proc/{self.process.pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
                if target.startswith(str(self.tmpdir)) and target.endswith("(deleted)"):
                    total += os.stat(fd).st_size
            except OSError:
                continue  # closed while we looked
        return total


def launch_server(
    name: str,
    tmpdir: Path,
    env_overrides: Mapping[str, str] | None = None,
    command: list[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> LiveDaphne:
    """`manage.py serve` in a subprocess on a free port against the test database; its
    connections carry the application name `name` (pg_stat_activity tells them apart). The
    server's environment is `environ` (by default this process's) with the test server's
    variables, then `env_overrides`, over it. `command` replaces `manage.py serve` (host and
    port are appended: `scripts/run.sh`)."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log_path = ARTIFACTS / f"{name}-server.log"
    database_url = shared_database_url()
    queue = f"{name}-{port}"
    env = {
        **(os.environ if environ is None else environ),
        "DJANGO_SETTINGS_MODULE": "circuitos_site.settings_test",
        "DATABASE_URL": database_url,
        "DB_APPLICATION_NAME": name,
        "TMPDIR": str(tmpdir),
        "CELERY_QUEUE": queue,  # nothing consumes it (enqueued work stays put) unless a test starts a worker
        "CHANNELS_PREFIX": f"{name}-{port}",
        "LOG_LEVEL": "WARNING",
        **(env_overrides or {}),
    }
    log = log_path.open("w")
    argv = [*command, "127.0.0.1", str(port)] if command else [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"]
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()  # the child has its own copy
    server = LiveDaphne(host="127.0.0.1", port=port, process=process, log_path=log_path, tmpdir=tmpdir, queue=queue)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the test server exited ({process.returncode}):\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as response:  # the loopback test server
                if response.status == 200:
                    return server
        except Exception:
            if time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                raise RuntimeError(f"the test server did not answer within 60 s:\n{server.log()}") from None
            time.sleep(0.3)


def stop_server(server: LiveDaphne) -> None:
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=15)


def _missing(reason: str) -> None:
    """Skip on a laptop without the service; fail in CI, which must run everything."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def require_postgres() -> None:
    if not settings.USES_POSTGRES:
        _missing("the live-server tests need PostgreSQL (DATABASE_URL): the server process must share the test database")


def require_production_shape() -> None:
    """PostgreSQL and Redis: what scripts/run.sh's production shape runs on."""
    require_postgres()
    if not settings.REDIS_URL:
        _missing("the production shape runs on Redis (REDIS_URL)")


@pytest.fixture(scope="package")
def live_daphne(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveDaphne]:
    require_postgres()
    with django_db_blocker.unblock():
        server = launch_server("http-edge", tmp_path_factory.mktemp("daphne-tmp"), {"DB_CONN_MAX_AGE": "0"})
    yield server
    stop_server(server)


@pytest.fixture(autouse=True)
def connections_closed_after_each_request(monkeypatch):
    """Requests and consumers run through the ASGI application in-process use threads of
    their own; with persistent connections those threads' connections would outlive the test
    (and block the test database's teardown). CONN_MAX_AGE=0 closes each when it is done."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def session_cookie(user) -> str:
    """A `Cookie` header value that signs `user` in on the live server (session in the test database)."""
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
