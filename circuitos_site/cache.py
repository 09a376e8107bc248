"""One Redis connection pool per process, shared by the cache and every other sync Redis use.

Django keeps a cache object per thread (its `caches` handler is thread-local), and each
`RedisCache` builds its own connection pool: every new thread — an ASGI request's
`sync_to_async` thread, a Celery thread-pool slot, a step's helper thread — opened connections
of its own, each a TCP connect plus redis-py's handshake (HELLO/CLIENT SETINFO, SELECT), and held
them while it lived. Here the pool is the process's: keyed by URL and pid (a forked child —
Celery prefork — makes its own; it must never use its parent's sockets), so the connections
in use are bounded by the threads using Redis *at the same moment*, not by the threads that
ever did. Connections are named `circuitos-<pid>` so `CLIENT LIST` shows whose they are.

The live-event publisher's presence look-ups go through the cache, so through this pool. Two
Redis users keep pools of their own by design: channels-redis (async, one pool per event
loop) and Celery's broker connection (kombu's pool, `broker_pool_limit`).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict[tuple[int, str], redis.ConnectionPool] = {}
_lock = threading.Lock()


def client_name() -> str:
    return f"circuitos-{os.getpid()}"


def shared_pool(url: str, **options: Any) -> redis.ConnectionPool:
    """This process's pool for `url` (the options of the first caller win)."""
    key = (os.getpid(), url)
    pool = _pools.get(key)
    if pool is None:
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = redis.ConnectionPool.from_url(url, client_name=client_name(), **options)
    return pool


def shared_client(url: str, **options: Any) -> redis.Redis:
    """A client on this process's pool for `url` (cheap: clients hold no connections of their own)."""
    return redis.Redis(connection_pool=shared_pool(url, **options))


class SharedPoolClient(RedisCacheClient):
    def _get_connection_pool(self, write: bool) -> redis.ConnectionPool:
        index = self._get_connection_pool_index(write)
        return shared_pool(self._servers[index], **self._pool_options)


class SharedPoolRedisCache(RedisCache):
    """Django's Redis cache on the process's shared pool (settings.CACHES)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolClient
