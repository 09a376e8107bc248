"""Whether any trigger of a tenant listens to a key, from this process's memory after the first ask.

Every finished execution asks "does a circuit-completed trigger name this circuit?" and "does an
event trigger listen to execution.succeeded / .failed?" — four SQL statements per execution, nearly
always answered "no". This keeps, per tenant and trigger type, the set of keys that enabled
triggers of enabled, published circuits listen to, tagged with the webhook lookup's stamp
(circuits/automation/triggers/lookup.py: bumped in the shared cache after any trigger, circuit or
version change commits), so the answer costs one cache GET and no SQL until something changes.

Only a "no" is final: a "yes" is followed by the kind's own `matching()` query, which reads the
database anyway. A cache that cannot be read means no entry is trusted.
"""

from __future__ import annotations

import threading

from circuits.automation.models.trigger import Trigger
from circuits.automation.models.version import VersionStatus
from circuits.automation.triggers import lookup

MAX_ENTRIES = 4096

_entries: dict[tuple[int, str], tuple[object, frozenset[str]]] = {}
_lock = threading.Lock()


def _read(tenant_id: int, type_: str) -> frozenset[str]:
    keys = (
        Trigger.objects.filter(tenant_id=tenant_id, type=type_, enabled=True, circuit__enabled=True, circuit__versions__status=VersionStatus.PUBLISHED)
        .values_list("key", flat=True)
        .distinct()
    )
    return frozenset(keys)


def listened_keys(tenant_id: int, type_: str) -> frozenset[str]:
    """The keys enabled `type_` triggers of `tenant_id` match on (their published circuits' only)."""
    stamp = lookup.current_stamp()
    slot = (tenant_id, type_)
    if stamp is not None:
        entry = _entries.get(slot)
        if entry is not None and entry[0] == stamp:
            return entry[1]
    keys = _read(tenant_id, type_)
    if stamp is not None:
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[slot] = (stamp, keys)
    return keys


def listens(tenant_id: int, type_: str, key: str) -> bool:
    return key in listened_keys(tenant_id, type_)
