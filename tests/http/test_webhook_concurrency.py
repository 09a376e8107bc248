"""64 concurrent waited webhook calls against the production shape lose nothing and hold a bounded number of connections (#14).

The production shape (`scripts/run.sh`, DEBUG=0): gunicorn forking WEB_CONCURRENCY uvicorn
workers, a Celery worker of CELERY_CONCURRENCY children with beat forked from it. Every
process has its own psycopg pool of at most DB_POOL_MAX connections, and only these
processes connect, so the shape never holds more than

    (WEB_CONCURRENCY + CELERY_CONCURRENCY + 2) × DB_POOL_MAX

connections (the 2: the Celery main process and beat) — documented in README ("Several worker
machines") and docs/architecture.md ("Runtime pieces"). 64 calls at once: each web process
runs up to API_WAIT_MAX_CALLERS of them inline and answers the rest 202 at once (the worker
runs those), so every answer is 2xx and every execution and step is kept.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from circuits.automation.engine import inline
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from tests.engine.test_inline_runs import PAYLOAD, lead_circuit
from tests.engine.workers import wait_for
from tests.fixtures import needs_postgres, needs_redis
from tests.http.conftest import ROOT, LiveDaphne, launch_server, require_production_shape, stop_server
from tests.live import shared_database_url

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]

CALLS = 64
WEB, WORKER, POOL = 2, 1, 4
BOUND = (WEB + WORKER + 2) * POOL
# scripts/run.sh names each process's connections (pg_stat_activity.application_name).
NAMES = ("circuitos-web", "circuitos-worker", "circuitos-beat")


@pytest.fixture
def production_shape(django_db_setup, django_db_blocker, tmp_path) -> Iterator[LiveDaphne]:
    require_production_shape()
    inline.journal.client.delete(inline.journal.entries, inline.journal.expiries)  # entries of earlier runs name other databases' rows
    with django_db_blocker.unblock():
        server = launch_server(
            "hook-load",
            tmp_path,
            {
                "DEBUG": "0",
                "WEB_CONCURRENCY": str(WEB),
                "CELERY_CONCURRENCY": str(WORKER),
                "DB_POOL_MAX": str(POOL),
                "DB_POOL_TIMEOUT": "30",
                "STATIC_ROOT": str(tmp_path / "static"),
            },
            command=["bash", str(ROOT / "scripts" / "run.sh")],
        )
    yield server
    stop_server(server)


class ConnectionWatch:
    """The shape's connections to the test database, counted every few milliseconds; the peak."""

    def __init__(self) -> None:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def count(conn) -> int:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = ANY(%s)"
        return conn.execute(sql, [list(NAMES)]).fetchone()[0]

    def _run(self) -> None:
        with psycopg.connect(shared_database_url(), autocommit=True) as conn:
            while not self._stop.is_set():
                self.peak = max(self.peak, self.count(conn))
                self._stop.wait(0.005)

    def __enter__(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


async def burst(url: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CALLS, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=90, limits=limits) as client:
        return await asyncio.gather(*(client.post(url, json=PAYLOAD) for _ in range(CALLS)))


def test_sixty_four_concurrent_waited_webhook_calls_all_answer_2xx_keep_every_execution_and_hold_bounded_connections(production_shape, world):
    circuit = lead_circuit(world, "hook-load")
    url = f"{production_shape.url}/hooks/{circuit.triggers.get().webhook_token}"
    with ConnectionWatch() as watch:
        responses = asyncio.run(burst(url))
        statuses = [r.status_code for r in responses]
        assert all(200 <= s < 300 for s in statuses), ({s: statuses.count(s) for s in set(statuses)}, production_shape.log())
        ids = {r.json()["execution_id"] for r in responses}
        # The ones answered 202 (no place to wait) run in the worker: every one finishes.
        wait_for(lambda: Execution.objects.filter(pk__in=ids, status=ExecutionStatus.SUCCEEDED).count() == CALLS, timeout=120, what="every execution")
    assert len(ids) == CALLS
    assert Execution.objects.filter(circuit=circuit).count() == CALLS
    assert StepRun.objects.filter(execution__circuit=circuit, status="succeeded").count() == 3 * CALLS
    answered = [r.json()["output"] for r in responses if r.status_code == 200]
    assert answered and all(o == {"body": PAYLOAD, "greeting": "Hello a@b.test"} for o in answered)
    assert 1 <= watch.peak <= BOUND, f"the shape held {watch.peak} connections at once (bound {BOUND})\n{production_shape.log()}"
