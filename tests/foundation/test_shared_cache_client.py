"""Every thread of a process uses one Redis client for the cache (circuitos_site/cache.py, #14).

Before: Django's per-thread cache backend built a client and connection pool of its own in every
thread — and under ASGI every request (and every inline run) has a thread of its own — so each
request opened new Redis connections.
"""

from __future__ import annotations

import threading

import redis
from django.core.cache import cache, caches

from tests.fixtures import needs_redis

pytestmark = [needs_redis()]


def test_threads_share_one_cache_client_and_its_connections():
    cache.set("shared-client-probe", 1, timeout=10)  # this thread's connection, back in the pool
    seen: list[tuple[object, int]] = []

    def use_cache() -> None:
        assert caches["default"].get("shared-client-probe") == 1
        client = caches["default"]._cache
        seen.append((client, id(client.get_client())))
        caches["default"].close()

    for _ in range(8):  # one request's thread after another, as under ASGI
        thread = threading.Thread(target=use_cache)
        thread.start()
        thread.join()
    assert len(seen) == 8 and {id(c) for c, _ in seen} == {id(cache._cache)}
    pool: redis.ConnectionPool = cache._cache.get_client().connection_pool
    assert len(pool._available_connections) + len(pool._in_use_connections) == 1  # the one connection, reused by every thread
