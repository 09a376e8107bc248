"""Real Celery worker (and beat) subprocesses for the engine's tests, on a queue of the test's own.

They share the test's PostgreSQL database and Redis broker, so only tests marked
`django_db(transaction=True)` (whose rows are committed) can use them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.db import connection

from circuits.core.queues import KINDS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def new_queue(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def own_queue(settings, prefix: str = "test") -> str:
    """A new queue that this test's tasks are sent to (pytest-django's `settings`), so no other
    test's worker takes them."""
    settings.CELERY_TASK_DEFAULT_QUEUE = name = new_queue(prefix)
    return name


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _env(queue: str, lease_seconds: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "circuitos_site.settings_test",
        "DATABASE_URL": database_url(),
        "CELERY_QUEUE": queue,
        "ENGINE_LEASE_SECONDS": str(lease_seconds),
        **extra,
    }


def _log(name: str | None):
    if name is None:
        return subprocess.DEVNULL
    ARTIFACTS.mkdir(exist_ok=True)
    return open(ARTIFACTS / name, "wb")


def start_worker(
    queue: str,
    lease_seconds: int = 60,
    *,
    log: str | None = None,
    concurrency: int = 2,
    level: str = "WARNING",
    env: dict[str, str] | None = None,
    kinds: tuple[str, ...] = KINDS,
    pool: str = "threads",
) -> subprocess.Popen:
    """A `celery worker` under the base queue name `queue`, consuming the queues of `kinds`
    (all by default: circuits/core/queues.py); `log` names a file in test-artifacts/ for its
    output (its log lines, at `level`); `env` adds settings (PROMETHEUS_MULTIPROC_DIR, LOG_FORMAT, …);
    `pool` is Celery's (threads: quick to start; prefork: as in production)."""
    env = {"CELERY_WORKER_KINDS": ",".join(kinds), **(env or {})}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "circuitos_site",
            "worker",
            f"--pool={pool}",
            "-c",
            str(concurrency),
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            level,
        ],
        cwd=ROOT,
        env=_env(queue, lease_seconds, LOG_LEVEL=level, **env),
        stdout=subprocess.DEVNULL,
        stderr=_log(log),
        start_new_session=True,
    )


def start_beat(queue: str, resume_every: int = 1, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`celery beat` sending the sweep (resume_due_executions) every `resume_every` seconds to
    the queues under `queue`; `env` adds settings (EXECUTION_PRUNE_EVERY, …)."""
    schedule = ARTIFACTS / f"beat-{queue}"
    ARTIFACTS.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "circuitos_site", "beat", "-s", str(schedule), "--max-interval", "1", "-l", "WARNING"],
        cwd=ROOT,
        env=_env(queue, 60, ENGINE_RESUME_EVERY=str(resume_every), **(env or {})),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def start_web(port: int, lease_seconds: int, queue: str = "unused-web-queue", *, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The site itself (runserver) in its own process, enqueueing executions on `queue`."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**_env(queue, lease_seconds), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(timeout=30)


def wait_for(predicate, timeout: float = 30.0, what: str | Callable[[], str] = "condition", every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


def worker_until(queue: str, predicate, *, timeout: float, what: str, log: str, level: str = "INFO"):
    """Start a worker on `queue` (its log in test-artifacts/`log`), wait for `predicate` to return
    something truthy, stop the worker whatever happened; what `predicate` returned."""
    worker = start_worker(queue, log=log, level=level)
    try:
        return wait_for(predicate, timeout=timeout, what=what)
    finally:
        stop(worker)
