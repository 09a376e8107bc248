"""Redis connections stay bounded: the cache (and what uses Redis through it) shares one pool per process.

Counted on the Redis server itself: `CLIENT LIST` entries whose address is a socket of this
test process (its TCP sockets read from /proc), across many executions each run in a thread of
its own — as ASGI requests' sync threads and Celery's thread pool run them — with the live
publisher sending to a listening group. Before the shared pool, every new thread opened
connections of its own (Django keeps a cache object, and so a pool, per thread).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from circuitos_site.cache import client_name, shared_client
from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from circuits.core import live
from tests.engine.helpers import build, chain, node
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]

EXECUTIONS = 40
BOUND = 4  # connections of this process's pool: the threads using Redis at one moment, plus one to spare
CHANNEL_LAYER = 2  # channels-redis's own (async) pool in the live publisher's event loop


def own_redis_ports() -> set[int]:
    """Local ports of this process's TCP sockets connected to the Redis port."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    redis_port = int(re.search(r":(\d+)", settings.REDIS_URL.split("@")[-1]).group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == redis_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def own_clients() -> list[dict]:
    """This process's entries in the server's CLIENT LIST."""
    ports = own_redis_ports()
    return [c for c in shared_client(settings.REDIS_URL).client_list() if int(c["addr"].rsplit(":", 1)[1]) in ports]


def test_many_executions_in_threads_of_their_own_hold_a_bounded_number_of_redis_connections(world):
    circuit = build(world, "pooled", [node(k, "util.transform", {"template": k}) for k in ("a", "b", "c")], chain("a", "b", "c"))
    live.mark_listening([live.tenant_group(world.tenant.pk)])  # someone listens: the publisher looks and sends
    named: set[str] = set()
    every: set[str] = set()
    # Connections this process held before (tests that ran earlier in it, e.g. under xdist) are
    # not this test's: count what the forty executions add.
    before = {c["id"] for c in own_clients()}

    def one_execution() -> None:
        try:
            run_now(create_execution(circuit, {}))
            cache.get("any-key")
            # Looked at from inside the thread, while whatever it opened is still open.
            clients = [c for c in own_clients() if c["id"] not in before]
            named.update(c["id"] for c in clients if c["name"] == client_name())
            every.update(c["id"] for c in clients)
            assert len(clients) <= BOUND + CHANNEL_LAYER, clients
        finally:
            connection.close()  # back to the database pool, as a request's or a task's end does

    for _ in range(EXECUTIONS):
        thread = threading.Thread(target=one_execution)
        thread.start()
        thread.join()
    # Every connection this process held over forty threads: a handful, not one per thread.
    assert len(named) <= BOUND, named
    assert len(every) <= BOUND + CHANNEL_LAYER, every
