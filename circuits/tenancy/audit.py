"""Recording the audit trail from the services (see Service.execute and models/audit.py).

A service that sets `audit_action` is recorded after its `perform()`, in the same transaction:
the actor (the user, and the API key when the request came with one — set by the API's key
authentication through `acting_through`), the object, and its fields before and after. Fields
that hold secrets — encrypted credential payloads, key hashes, tokens, passwords — are never
part of a snapshot: a credential's entry says it changed, never what it holds.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from structlog.contextvars import get_contextvars

from circuits.tenancy.models.audit import AuditEntry

if TYPE_CHECKING:
    from circuits.tenancy.models.access import ApiKey
    from circuits.tenancy.models.tenants import Tenant

SECRET_FIELD = re.compile(r"secret|encrypted|hash|token|password", re.IGNORECASE)
# Bookkeeping that changes on every write and says nothing about the change.
SKIPPED_FIELDS = frozenset({"updated_at", "last_used_at", "tenant"})
MAX_TEXT = 2000  # one field's text in a snapshot (a long description is cut, not stored whole)

_acting_key: ContextVar[ApiKey | None] = ContextVar("audit_acting_key", default=None)


def acting_through(key: ApiKey | None) -> None:
    """The API key the current request authenticated with (None: a session or no request)."""
    _acting_key.set(key)


def snapshot(instance: models.Model | None, fields: tuple[str, ...] | None = None) -> dict | None:
    """The instance's plain fields as JSON-ready values, secrets and bookkeeping left out."""
    if instance is None or instance.pk is None:
        return None
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in SKIPPED_FIELDS or SECRET_FIELD.search(field.name):
            continue
        if fields is not None and field.name not in fields:
            continue
        value = getattr(instance, field.attname)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            value = value[:MAX_TEXT] + "…"
        values[field.attname if field.is_relation else field.name] = value
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def fresh(instance: models.Model | None) -> models.Model | None:
    """The stored row of `instance` (a service may have changed the object in memory already)."""
    if instance is None or instance.pk is None:
        return None
    return type(instance)._base_manager.filter(pk=instance.pk).first()


def actor_label(user, key: ApiKey | None) -> str:
    name = user.get_username() if user is not None and getattr(user, "is_authenticated", False) else "system"
    return f"{name} (API key {key.name})" if key is not None else name


def record(
    tenant: Tenant,
    user,
    action: str,
    *,
    subject: models.Model | None,
    before: dict | None,
    after: dict | None,
    object_id: Any = None,
    object_repr: str = "",
) -> AuditEntry:
    key = _acting_key.get()
    if key is not None and key.tenant_id != tenant.pk:
        key = None  # a key of another tenant never acts here; do not name it
    identifier = object_id if object_id is not None else (subject.pk if subject is not None and subject.pk is not None else (before or {}).get("id"))
    return AuditEntry.objects.create(
        tenant=tenant,
        actor_user=user if user is not None and getattr(user, "is_authenticated", False) else None,
        actor_key=key,
        actor=actor_label(user, key)[:200],
        action=action,
        object_type=action.split(".", 1)[0],
        object_id="" if identifier is None else str(identifier)[:64],
        object_repr=(object_repr or (str(subject) if subject is not None else ""))[:200],
        before=before,
        after=after,
        request_id=str(get_contextvars().get("request_id", ""))[:64],
    )
