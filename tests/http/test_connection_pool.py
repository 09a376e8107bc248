"""Concurrent requests share a bounded pool of PostgreSQL connections (#14).

Before: with the shipped DB_CONN_MAX_AGE=60, every ASGI request ran its sync code in a thread
of its own and left that thread's connection open — one daphne held ~50 connections at 16
concurrent requests and then failed half of them with "too many clients". Now each process
has psycopg's pool (DB_POOL, on by default with PostgreSQL): a request borrows a connection
and gives it back when it ends. The server here runs with the production defaults (no
DB_CONN_MAX_AGE override) and a pool of 4.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.api.helpers import make_key
from tests.fixtures import needs_postgres
from tests.http.conftest import LiveDaphne, launch_server, require_postgres, stop_server
from tests.live import shared_database_url

pytestmark = [needs_postgres(), pytest.mark.django_db(transaction=True)]

POOL_MAX = 4
NAME = "pool-shape"


@pytest.fixture(scope="module")
def pooled_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveDaphne]:
    require_postgres()
    with django_db_blocker.unblock():
        server = launch_server(NAME, tmp_path_factory.mktemp("pool-tmp"), {"DB_POOL_MAX": str(POOL_MAX), "DB_POOL_TIMEOUT": "20"})
    yield server
    stop_server(server)


class ConnectionWatch:
    """Counts the server's connections (by application name) every few milliseconds."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.peak, self._stop = dsn, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def count(self, conn) -> int:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [NAME]).fetchone()[0]

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.is_set():
                self.peak = max(self.peak, self.count(conn))
                self._stop.wait(0.005)

    def __enter__(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


async def wave(url: str, key: str, n: int) -> list[int]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        responses = await asyncio.gather(*(client.get(f"{url}/api/v1/circuits", headers={"Authorization": f"Bearer {key}"}) for _ in range(n)))
    return [r.status_code for r in responses]


def test_sixty_four_concurrent_requests_all_succeed_on_a_bounded_number_of_connections(pooled_server, world):
    key = make_key(world.tenant, world.operator, "operator")
    with ConnectionWatch(shared_database_url()) as watch:
        statuses = [status for _ in range(3) for status in asyncio.run(wave(pooled_server.url, key, 64))]
    assert statuses == [200] * 192, {s: statuses.count(s) for s in set(statuses)}
    assert 1 <= watch.peak <= POOL_MAX, f"the server held {watch.peak} connections at once (pool of {POOL_MAX})\n{pooled_server.log()}"
    with psycopg.connect(shared_database_url(), autocommit=True) as conn:
        assert watch.count(conn) <= POOL_MAX  # and keeps no more once the load is over
