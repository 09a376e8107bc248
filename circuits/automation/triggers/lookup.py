"""A webhook's trigger, circuit and published version, from this process's memory after the first call.

Every delivery used to read the trigger (with its circuit and tenant), ask whether a version is
published, then read that version — three queries before the execution's INSERT. Published
versions never change, and triggers and circuits change rarely, so each process keeps what it
read per webhook token, tagged with a **stamp**: a counter in the shared cache (Redis in
production, so every web process sees it) that goes up after any change that could alter an
answer commits — a trigger or circuit saved or deleted, a version published, rolled back to
or deleted (`bump`, connected in `connect`). A call reads the stamp (one cache GET) and uses
its entry only when the stamp is the one the entry was read under; otherwise it reads the
database again.

The stamp is read *before* the database: a change that commits after that read bumps the
stamp after the entry was stored, so the next call sees the difference. A cache that cannot
be read means no entry is trusted (every call reads the database).

What the entry holds is shared by the requests of the process: callers only read it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.trigger import Trigger
from circuits.automation.models.version import CircuitVersion, VersionStatus
from circuits.automation.triggers.kinds.webhook import WebhookTrigger

log = logging.getLogger(__name__)

STAMP_KEY = "webhook-lookup-stamp"
MAX_ENTRIES = 4096
# Fields whose change cannot alter a webhook's answer: saves of only these leave the stamp alone
# (a schedule trigger moves its next_run_at on every fire; that must not empty every process's entries).
_IRRELEVANT = {
    Trigger: {"next_run_at", "last_fired_at", "updated_at"},
    Circuit: {"name", "description", "tags", "on_failure", "updated_at"},
}


@dataclass(frozen=True)
class WebhookTarget:
    trigger: Trigger  # with .circuit and .tenant loaded
    version: CircuitVersion | None  # the published one; None when nothing is published


_entries: dict[str, tuple[object, WebhookTarget]] = {}
_lock = threading.Lock()


def _stamp() -> object | None:
    try:
        stamp = cache.get(STAMP_KEY)
        if stamp is None:
            _start_counter()
            stamp = cache.get(STAMP_KEY)
        return stamp
    except Exception:
        log.warning("webhook lookup: the shared cache is unreachable; reading the database", exc_info=True)
        return None


def _start_counter() -> None:
    # A first call, or a counter the cache lost: it starts from the clock, never from a value an
    # earlier counter had (entries tagged with that value would pass). add() keeps another
    # process's counter if it set one meanwhile.
    cache.add(STAMP_KEY, time.time_ns(), timeout=None)


def _read(token: str) -> WebhookTarget | None:
    trigger = Trigger.objects.select_related("circuit", "tenant").filter(webhook_token=token, type=WebhookTrigger.type).first()
    if trigger is None:
        return None
    version = CircuitVersion.objects.filter(circuit_id=trigger.circuit_id, status=VersionStatus.PUBLISHED).first()
    return WebhookTarget(trigger=trigger, version=version)


def webhook_target(token: str) -> WebhookTarget | None:
    """The trigger with this webhook token and its circuit's published version, or None when no webhook has it."""
    stamp = _stamp()
    if stamp is not None:
        entry = _entries.get(token)
        if entry is not None and entry[0] == stamp:
            return entry[1]
    target = _read(token)
    if stamp is not None and target is not None:  # unknown tokens are not kept: anyone can send any number of them
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()  # rare (thousands of webhooks in one process): start over rather than track use
            _entries[token] = (stamp, target)
    return target


def bump() -> None:
    """Every process's entries are stale from now on (called once the change commits)."""
    try:
        try:
            cache.incr(STAMP_KEY)
        except ValueError:  # no counter (never set, or lost): a new one differs from every old value
            _start_counter()
    except Exception:
        # Entries read under the old stamp would stay in use: say so loudly. They are dropped in this process at least.
        log.error("webhook lookup: could not bump the stamp; other processes may use a stale webhook until it changes", exc_info=True)
    _entries.clear()


def _changed(sender, instance, update_fields=None, **kwargs) -> None:
    if sender is CircuitVersion and instance.status == VersionStatus.DRAFT:
        return  # drafts (the builder saves them often) never answer a webhook
    if update_fields is not None and set(update_fields) <= _IRRELEVANT.get(sender, set()):
        return
    # This process forgets at once (a later read in this transaction sees the change); every
    # process, once it commits (reads before the commit saw the old state and were stored
    # under the old stamp).
    _entries.clear()
    transaction.on_commit(bump)


def connect() -> None:
    for model in (Trigger, Circuit, CircuitVersion):
        post_save.connect(_changed, sender=model, dispatch_uid=f"webhook_lookup.saved.{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"webhook_lookup.deleted.{model.__name__}")


def current_stamp() -> object | None:
    """The shared stamp (one cache GET) that other per-process caches of trigger answers tag
    their entries with (circuits/automation/triggers/listening.py); None: trust no entry."""
    return _stamp()
