"""A failure digest instead of a storm, kept in the shared cache (Redis in production).

The first failure of a circuit opens a window of `digest_minutes` and is alerted at once;
failures inside the window are only counted. When the window ends, a task scheduled at its
opening (`flush`) sends one digest alert for the counted failures and opens the next window;
with nothing counted, the next failure alerts at once again. A failure arriving after the
window but before the flush alerts itself and says how many failed in between. Every step
is one atomic cache operation (add / incr / decr), so workers racing on the same circuit
still alert once per window and lose no count.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

COUNT_TTL = 30 * 24 * 3600  # counts waiting for the next alert are forgotten after a month without failures
PREFIX = "circuitos:failure-digest"


@dataclass(frozen=True)
class Alert:
    suppressed: int = 0  # failures since the previous alert that were not alerted on their own
    since: datetime | None = None  # when the previous alert went out
    opened: bool = False  # this alert opened a window: its flush is to be scheduled
    latest: int | None = None  # a flush: the last counted execution


def _keys(circuit) -> tuple[str, str, str, str]:
    # With the creation time: ids start again at 1 in a new database, the cache would remember old ones.
    base = f"{PREFIX}:{circuit.tenant_id}:{circuit.pk}:{circuit.created_at.timestamp():.6f}"
    return f"{base}:open", f"{base}:count", f"{base}:last", f"{base}:latest"


def _take(count_key: str, last_key: str, now: datetime) -> tuple[int, datetime | None]:
    suppressed = int(cache.get(count_key) or 0)
    if suppressed:
        with contextlib.suppress(ValueError):  # expired meanwhile: nothing left to take back
            cache.decr(count_key, suppressed)  # what arrives meanwhile stays counted for the next alert
    last = cache.get(last_key)
    cache.set(last_key, now.isoformat(), timeout=COUNT_TTL)
    return suppressed, datetime.fromisoformat(last) if suppressed and last else None


def admit(circuit, minutes: int, execution_id: int | None = None) -> Alert | None:
    """An Alert when this failure is alerted now, None when it is counted into the next one."""
    open_key, count_key, last_key, latest_key = _keys(circuit)
    now = timezone.now()
    if minutes > 0 and not cache.add(open_key, now.isoformat(), timeout=minutes * 60):
        cache.add(count_key, 0, timeout=COUNT_TTL)
        try:
            cache.incr(count_key)
        except ValueError:  # expired between add and incr
            cache.add(count_key, 1, timeout=COUNT_TTL)
        if execution_id is not None:
            cache.set(latest_key, execution_id, timeout=COUNT_TTL)
        return None
    suppressed, since = _take(count_key, last_key, now)
    return Alert(suppressed=suppressed, since=since, opened=minutes > 0)


def flush(circuit, minutes: int) -> Alert | None:
    """At a window's end: an Alert for what it counted (opening the next window), or None.

    None also when a window is open already (a failure after the end alerted and took the
    count, or this flush came early): that window's own flush reports what it counts.
    """
    open_key, count_key, last_key, latest_key = _keys(circuit)
    now = timezone.now()
    if minutes <= 0 or not cache.add(open_key, now.isoformat(), timeout=minutes * 60):
        return None
    if not int(cache.get(count_key) or 0):
        cache.delete(open_key)  # a quiet window: the next failure alerts at once
        return None
    suppressed, since = _take(count_key, last_key, now)
    latest = cache.get(latest_key)
    return Alert(suppressed=suppressed, since=since, opened=True, latest=int(latest) if latest else None)


def close_window(circuit) -> None:
    """End the circuit's current window now (the next failure alerts at once); the count stays."""
    cache.delete(_keys(circuit)[0])
