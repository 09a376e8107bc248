"""Live updates: every execution/step state change goes to two Channels groups.

`execution.<id>` (the builder and the execution page) and `tenant.<id>` (lists and
dashboards). Messages are handed to one background thread with its own event loop, which
sends them in order: the engine never waits for the channel layer, and a Redis layer keeps
one connection pool instead of one per message. A failure to publish never fails an
execution: the database is the truth and pages catch up from it when they (re)connect.

Only to groups someone listens to: a socket marks its groups in the cache (`mark_listening`,
refreshed while it is open) before it joins them and reads its snapshot, and the publisher
looks the marks up once per batch — so a run nobody watches costs one cache read per batch,
not a channel-layer round trip per event, and a socket that joins misses nothing its snapshot
does not hold. The publisher gathers for LIVE_COALESCE_MS after the first event of a batch, so the
events of one execution's moment share one presence look-up. Events waiting together for the same group go out as one message
(`circuit.events`, at most BATCH_MAX events; the consumer sends them one frame each, in
order). The queue is bounded (LIVE_QUEUE_MAX): when the publisher falls behind, the oldest
events are dropped (counted in `dropped`) — never a close message or a flush marker — and
pages catch up from the database.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from collections import deque
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
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


EVENT_GROUPS = ("execution.", "tenant.")  # groups that carry events (the others carry close messages)
PRESENCE_TTL = 150  # seconds a socket's mark lasts without a refresh …
PRESENCE_REFRESH = 60  # … which an open socket renews this often
BATCH_MAX = 100  # events in one coalesced message


def presence_key(group: str) -> str:
    return f"live:listen:{group}"


def mark_listening(groups: list[str]) -> None:
    """Say that a socket listens to `groups` (before it joins them and reads its snapshot)."""
    cache.set_many({presence_key(g): 1 for g in groups if g.startswith(EVENT_GROUPS)}, timeout=PRESENCE_TTL)


async def amark_listening(groups: list[str]) -> None:
    await cache.aset_many({presence_key(g): 1 for g in groups if g.startswith(EVENT_GROUPS)}, timeout=PRESENCE_TTL)


def _is_event(item: Any) -> bool:
    return isinstance(item, tuple) and item[1].get("type") == "circuit.event"


class _Publisher:
    def __init__(self, maxsize: int | None = None) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wakeup: asyncio.Event | None = None
        self.items: deque = deque()
        self.maxsize = maxsize
        self.lock = threading.Lock()
        self.pid = 0  # a forked child (Celery prefork) inherits the loop but not its thread
        self.sent = self.skipped = self.dropped = 0  # events sent, left unsent (nobody listened), dropped (queue full)

    def submit(self, groups: list[str], message: dict) -> None:
        loop, _ = self._ensure_loop()
        loop.call_soon_threadsafe(self.put, (groups, message))

    def put(self, item: Any) -> None:
        """Queue `item` (in the publisher's loop); a full queue drops its oldest event."""
        limit = self.maxsize if self.maxsize is not None else settings.LIVE_QUEUE_MAX
        if len(self.items) >= limit and _is_event(item):
            oldest = next((i for i, queued in enumerate(self.items) if _is_event(queued)), None)
            if oldest is None:
                self.dropped += 1  # only close messages and markers are waiting: they go first
                metrics.live_event_dropped("QueueFull")
                return
            del self.items[oldest]
            self.dropped += 1
            metrics.live_event_dropped("QueueFull")
        self.items.append(item)
        if self.wakeup is not None:
            self.wakeup.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far was sent (tests, process exit)."""
        if not self._alive():
            return True
        done = threading.Event()
        self.loop.call_soon_threadsafe(self.put, done)
        return done.wait(timeout)

    def _alive(self) -> bool:
        return self.loop is not None and not self.loop.is_closed() and self.pid == os.getpid()

    def _ensure_loop(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        if not self._alive():
            with self.lock:
                if not self._alive():
                    self.items = deque()  # what a forked child inherited belongs to its parent
                    ready = threading.Event()
                    threading.Thread(target=self._run, args=(ready,), name="live-publisher", daemon=True).start()
                    ready.wait()
        return self.loop, self.wakeup

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.wakeup = asyncio.Event()
        self.loop = loop
        self.pid = os.getpid()
        ready.set()
        loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        while True:
            await self.wakeup.wait()
            coalesce = settings.LIVE_COALESCE_MS / 1000
            if coalesce and not any(isinstance(item, threading.Event) for item in self.items):
                await asyncio.sleep(coalesce)  # let the events of the same moment join this batch (a flush goes at once)
            self.wakeup.clear()
            batch, self.items = list(self.items), deque()
            try:
                await self.send(batch)
            except Exception:  # best-effort: the database has the state
                log.warning("could not publish %d live messages", len(batch), exc_info=True)
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()

    async def send(self, batch: list) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        events: dict[str, list[dict]] = {}
        controls: list[tuple[str, dict]] = []
        for item in batch:
            if isinstance(item, threading.Event):
                continue
            groups, message = item
            for group in groups:
                if _is_event(item):
                    events.setdefault(group, []).append(message["event"])
                else:
                    controls.append((group, message))
        marks = cache.get_many([presence_key(g) for g in events]) if events else {}
        outgoing: dict[str, list[dict]] = {}
        for group, message in controls:
            outgoing.setdefault(group, []).append(message)
        for group, group_events in events.items():
            if presence_key(group) not in marks:
                self.skipped += len(group_events)
                continue
            self.sent += len(group_events)
            for start in range(0, len(group_events), BATCH_MAX):
                part = group_events[start : start + BATCH_MAX]
                message = {"type": "circuit.event", "event": part[0]} if len(part) == 1 else {"type": "circuit.events", "events": part}
                outgoing.setdefault(group, []).append(message)

        async def to_group(group: str, messages: list[dict]) -> None:
            for message in messages:  # in order within a group; the groups in parallel
                await layer.group_send(group, message)

        for outcome in await asyncio.gather(*(to_group(g, m) for g, m in outgoing.items()), return_exceptions=True):
            if isinstance(outcome, Exception):  # best-effort: the database has the state
                # By exception class (ChannelFull, ConnectionError, …): a small set of reasons.
                metrics.live_event_dropped(type(outcome).__name__)
                log.warning("could not publish a live message: %s", outcome)


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
