"""Live updates: every execution/step state change goes to two Channels groups.

`execution.<id>` (the builder and the execution page) and `tenant.<id>` (lists and
dashboards). Messages are handed to one background thread with its own event loop, which
sends them in order: the engine never waits for the channel layer, and a Redis layer keeps
one connection pool instead of one per message. A failure to publish never fails an
execution: the database is the truth and pages catch up from it when they (re)connect.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

from circuits.core import metrics

log = logging.getLogger(__name__)


def execution_group(execution_id: int) -> str:
    return f"execution.{execution_id}"


def tenant_group(tenant_id: int) -> str:
    return f"tenant.{tenant_id}"


def member_group(tenant_id: int, user_id: int) -> str:
    """Every socket one user has open in one tenant: closed when the membership ends."""
    return f"member.{tenant_id}.{user_id}"


class _Publisher:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queue: asyncio.Queue | None = None
        self.lock = threading.Lock()
        self.pid = 0  # a forked child (Celery prefork) inherits the loop but not its thread

    def submit(self, groups: list[str], message: dict) -> None:
        loop, queue = self._ensure_loop()
        loop.call_soon_threadsafe(queue.put_nowait, (groups, message))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far was sent (tests, process exit)."""
        if not self._alive():
            return True
        done = threading.Event()
        self.loop.call_soon_threadsafe(self.queue.put_nowait, done)
        return done.wait(timeout)

    def _alive(self) -> bool:
        return self.loop is not None and not self.loop.is_closed() and self.pid == os.getpid()

    def _ensure_loop(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        if not self._alive():
            with self.lock:
                if not self._alive():
                    ready = threading.Event()
                    threading.Thread(target=self._run, args=(ready,), name="live-publisher", daemon=True).start()
                    ready.wait()
        return self.loop, self.queue

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.queue = asyncio.Queue()
        self.loop = loop
        self.pid = os.getpid()
        ready.set()
        loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            groups, message = item
            layer = get_channel_layer()
            if layer is None:
                continue
            for group in groups:
                try:
                    await layer.group_send(group, message)
                except Exception as exc:  # best-effort: the database has the state
                    # By exception class (ChannelFull, ConnectionError, …): a small set of reasons.
                    metrics.live_event_dropped(type(exc).__name__)
                    log.warning("could not publish live event %s", message.get("event", {}).get("kind", message["type"]), exc_info=True)


_publisher = _Publisher()
atexit.register(_publisher.flush, 2.0)


def publish(tenant_id: int, execution_id: int | None, event: dict[str, Any]) -> None:
    groups = [tenant_group(tenant_id)]
    if execution_id is not None:
        groups.insert(0, execution_group(execution_id))
    # `ts` (seconds since the epoch) lets clients order events and measure delivery delay.
    _publisher.submit(groups, {"type": "circuit.event", "event": {**event, "ts": time.time()}})


def publish_on_commit(tenant_id: int, execution_id: int | None, event: dict[str, Any]) -> None:
    """`publish` once the current transaction commits (at once outside one); never if it rolls back."""
    transaction.on_commit(lambda: publish(tenant_id, execution_id, event))


def flush(timeout: float = 5.0) -> bool:
    return _publisher.flush(timeout)


def session_group(session_key: str) -> str:
    """The sockets opened with one signed-in session (closed when it signs out)."""
    return f"session.{session_key}"


def close_session_sockets(session_key: str) -> None:
    """Close the sockets a session opened: signing out ends what they were let in by."""
    _publisher.submit([session_group(session_key)], {"type": "member.left"})


def close_member_sockets_on_commit(tenant_id: int, user_id: int) -> None:
    """Once the removal commits, close the user's open sockets in the tenant (they were checked only at connect)."""
    transaction.on_commit(lambda: _publisher.submit([member_group(tenant_id, user_id)], {"type": "member.left"}))
