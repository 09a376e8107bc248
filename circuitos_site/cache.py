"""Django's Redis cache with one client (one connection pool) per process, not one per thread.

Django keeps a cache backend instance per thread (`caches` is thread-local), and each
RedisCache builds its own client and redis-py connection pool. Under ASGI every request's sync
code runs in a thread of its own, as does each inline run (circuits/automation/engine/inline.py),
so every request opened new Redis connections — a TCP connect and a handshake per thread, ~13 %
of a waited webhook's CPU in a py-spy profile (#14). redis-py's pools are thread-safe and reset
themselves in a forked child, so one client per process and configuration is shared.
"""

from __future__ import annotations

import threading
from functools import cached_property

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[tuple, RedisCacheClient] = {}
_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client
