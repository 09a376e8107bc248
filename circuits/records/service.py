"""Writing records: create, update, delete, upsert — validated, recorded in history, triggering.

Every write runs in one transaction: normalise the data (coercion, blanks dropped, defaults),
send `record_before_save` so before-save hooks may change or reject it, validate it against
its type, save it, write a `RecordChange`, and — once the transaction commits — send
`record_changed` (circuits/records/signals.py). The trigger machinery receives both; this
module does not know it. A rejection anywhere leaves nothing saved.

Callers: views and the API pass the signed-in user (who needs the "edit" permission); the
engine passes `actor=None` and the running `execution` — a circuit was allowed to run, so
no user permission applies, but the tenant scope still does (the execution must belong to
the tenant, and records are only ever looked up through it).

Idempotency: the engine passes the step's `idempotency_key`. The write then also stores an
`AppliedWrite` row with that key in its own transaction (unique per tenant); a second write
with the same key — the step re-run after its worker died mid-step — changes nothing and
returns the first write's result. Concurrent repeats wait on the unique key, then see it.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models.fields.json import KeyTransform

from circuits.core.live import publish_on_commit
from circuits.records.models import ObjectType, Record, RecordChange
from circuits.records.signals import record_before_save, record_changed
from circuits.records.types import ObjectTypeDef, get_type, validate_object_type_definition, validate_type_slug
from circuits.tenancy.idempotency import apply_once
from circuits.tenancy.models.effects import AppliedWrite
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service

if TYPE_CHECKING:
    from circuits.automation.models.execution import Execution
    from circuits.tenancy.models.tenants import Tenant

CREATED, UPDATED, DELETED = "created", "updated", "deleted"


def record_event(record_id: int, object_type: str, operation: str, execution_id: int | None) -> dict[str, Any]:
    """The live `record.changed` event: which record moved, never its data.

    It goes to the tenant's group only (members let in by TenantEventsConsumer); a page that
    shows the record re-reads it through its own permission-checked view (static/pages/refresh.js).
    """
    return {"kind": "record.changed", "record": record_id, "object_type": object_type, "operation": operation, "execution_id": execution_id}


def applied_write(tenant: Tenant, key: str | None) -> AppliedWrite | None:
    """The write already made under `key` in `tenant`, if any."""
    if not key:
        return None
    return AppliedWrite.objects.for_tenant(tenant).filter(key=key).first()


class _RecordService(Service):
    perm = Perm.EDIT
    denied_message = "Your role cannot change records."
    operation = ""

    def __init__(self, tenant: Tenant, actor, execution: Execution | None = None, idempotency_key: str | None = None) -> None:
        super().__init__(tenant, actor)
        self.execution = execution
        self.idempotency_key = idempotency_key

    def execute(self) -> Any:
        if not self.idempotency_key:
            return super().execute()
        self.check()
        result, _first = apply_once(self.tenant, self.idempotency_key, self.operation, self.perform, self.remember, self.repeat)
        return result

    def remember(self, result: Any) -> tuple[int | None, dict]:
        """What a repeat needs to answer like the first write: (record id, extra JSON)."""
        return result.pk, {}

    def repeat(self, applied: AppliedWrite) -> Any:
        """The first write's result, for a repeat of it (the record as it is now)."""
        return Record.objects.for_tenant(self.tenant).get(pk=applied.record_key)

    def check(self) -> None:
        if self.tenant is None or self.tenant.pk is None:
            raise PermissionDenied("Records always belong to a tenant.")
        if self.execution is not None and self.execution.tenant_id != self.tenant.pk:
            raise PermissionDenied("That execution belongs to another tenant.")
        self.scope()
        if self.actor is None:
            # The engine: the circuit was already allowed to run; only the tenant scope applies.
            self.validate()
            return
        super().check()

    def scope(self) -> None:
        """Raise Record.DoesNotExist for a record outside the tenant (before any permission check)."""

    @property
    def _actor_row(self):
        return self.actor if self.actor is not None and getattr(self.actor, "is_authenticated", False) else None

    def _history(self, record: Record, operation: str, changes: dict) -> None:
        RecordChange.objects.create(
            tenant=self.tenant,
            record=record,
            record_key=record.pk,
            object_type=record.object_type,
            operation=operation,
            changes=changes,
            actor=self._actor_row,
            execution=self.execution,
        )

    def _announce(self, record_id: int, object_type: str, operation: str, old: dict | None, new: dict | None) -> None:
        tenant_id = self.tenant.pk
        execution_id = self.execution.pk if self.execution is not None else None

        # robust: the write is committed by then; a failing dispatch is logged by Django
        # instead of making the caller believe the write failed (and retry it).
        def send() -> None:
            record_changed.send(
                sender=Record,
                tenant_id=tenant_id,
                record_id=record_id,
                object_type=object_type,
                operation=operation,
                old=old,
                new=new,
                execution_id=execution_id,
            )

        transaction.on_commit(send, robust=True)
        # Pages showing the record refresh; sent once committed, and only if someone listens (circuits/core/live.py).
        publish_on_commit(tenant_id, None, record_event(record_id, object_type, operation, execution_id))

    def _before_save(self, type_def: ObjectTypeDef, operation: str, new: dict, old: dict | None, record_id: int | None) -> dict:
        # Copies: hooks change `fields` in place, and must not alter the caller's or the old data.
        # Sent inside this write's transaction; a hook's ValidationError refuses the save.
        fields = dict(new)
        old_copy = dict(old) if old is not None else None
        record_before_save.send(
            sender=Record, tenant=self.tenant, object_type=type_def.slug, operation=operation, fields=fields, old=old_copy, record_id=record_id
        )
        return fields

    def _check_refs(self, type_def: ObjectTypeDef, data: dict, names: set[str] | None = None) -> None:
        """Reference fields must name a record of the right type in this tenant (one query)."""
        refs = {
            f.name: data[f.name]
            for f in type_def.fields
            if f.ref and isinstance(data.get(f.name), int) and not isinstance(data.get(f.name), bool) and (names is None or f.name in names)
        }
        if not refs:
            return
        found = dict(Record.objects.for_tenant(self.tenant).filter(pk__in=set(refs.values())).values_list("pk", "object_type"))
        problems = {}
        for name, record_id in refs.items():
            wanted = type_def.field(name).ref
            if found.get(record_id) is None or (wanted != "*" and found[record_id] != wanted):
                problems[name] = f"there is no {'' if wanted == '*' else wanted + ' '}record with id {record_id}"
        if problems:
            raise ValidationError(problems)


def _diff(old: dict, new: dict) -> dict:
    return {name: [old.get(name), new.get(name)] for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)}


def _scoped(tenant: Tenant, record: Record) -> None:
    # A record of another tenant is "not found": its existence is not even confirmed.
    if record is None or record.pk is None or record.tenant_id != tenant.pk:
        raise Record.DoesNotExist("Record not found.")


class CreateRecord(_RecordService):
    operation = CREATED

    def __init__(self, tenant: Tenant, actor, object_type: str, data: dict, execution: Execution | None = None, idempotency_key: str | None = None) -> None:
        super().__init__(tenant, actor, execution, idempotency_key)
        self.object_type = object_type
        self.data = data

    def validate(self) -> None:
        self.type_def = get_type(self.tenant, self.object_type)
        self.type_def.check_unknown(self.data)  # fail fast, before any before-save circuit runs

    def perform(self) -> Record:
        type_def = self.type_def
        data = type_def.apply_defaults(type_def.normalize(self.data))
        data = type_def.clean(self._before_save(type_def, CREATED, data, None, None))
        self._check_refs(type_def, data)
        actor = self._actor_row
        record = Record.objects.create(tenant=self.tenant, object_type=type_def.slug, data=data, created_by=actor, updated_by=actor)
        self._history(record, CREATED, _diff({}, data))
        self._announce(record.pk, type_def.slug, CREATED, None, dict(data))
        return record


class UpdateRecord(_RecordService):
    """Partial update: `changes` are merged into the record; None or "" clears a field."""

    operation = UPDATED

    def __init__(self, tenant: Tenant, actor, record: Record, changes: dict, execution: Execution | None = None, idempotency_key: str | None = None) -> None:
        super().__init__(tenant, actor, execution, idempotency_key)
        self.record = record
        self.changes = changes

    def permission_object(self):
        return self.record

    def scope(self) -> None:
        _scoped(self.tenant, self.record)

    def validate(self) -> None:
        self.type_def = get_type(self.tenant, self.record.object_type)
        self.type_def.check_unknown(self.changes)

    def perform(self) -> Record:
        type_def = self.type_def
        # Lock the row and work from its current data, so concurrent updates do not lose fields.
        record = Record.objects.for_tenant(self.tenant).select_for_update().filter(pk=self.record.pk).first()
        if record is None:
            raise Record.DoesNotExist("Record not found.")
        old = dict(record.data)
        # Fields since removed from a custom type are dropped rather than blocking every update.
        merged = {name: value for name, value in old.items() if type_def.field(name) is not None}
        merged.update(self.changes)
        merged = type_def.apply_defaults(type_def.normalize(merged))
        if not _diff(old, merged):
            return record  # no-op: no history, no trigger, no before-save circuit
        new = type_def.clean(self._before_save(type_def, UPDATED, merged, old, record.pk))
        changes = _diff(old, new)
        if not changes:
            return record
        self._check_refs(type_def, new, names=set(changes))
        record.data = new
        record.updated_by = self._actor_row
        record.save(update_fields=["data", "updated_by", "updated_at"])
        self._history(record, UPDATED, changes)
        self._announce(record.pk, type_def.slug, UPDATED, old, dict(new))
        # The caller's instance reflects the saved state too.
        self.record.data, self.record.updated_by, self.record.updated_at = record.data, record.updated_by, record.updated_at
        return record


class DeleteRecord(_RecordService):
    """Delete a record. Its history stays, with a last row saying who deleted it and what it held."""

    operation = DELETED

    def __init__(self, tenant: Tenant, actor, record: Record, execution: Execution | None = None, idempotency_key: str | None = None) -> None:
        super().__init__(tenant, actor, execution, idempotency_key)
        self.record = record

    def remember(self, result: int) -> tuple[int | None, dict]:
        return result, {}

    def repeat(self, applied: AppliedWrite) -> int:
        return applied.record_key

    def permission_object(self):
        return self.record

    def scope(self) -> None:
        _scoped(self.tenant, self.record)

    def perform(self) -> int:
        record = Record.objects.for_tenant(self.tenant).select_for_update().filter(pk=self.record.pk).first()
        if record is None:
            raise Record.DoesNotExist("Record not found.")
        record_id, object_type, old = record.pk, record.object_type, dict(record.data)
        self._history(record, DELETED, _diff(old, {}))
        record.delete()  # the history rows keep record_key and object_type
        self._announce(record_id, object_type, DELETED, old, None)
        return record_id


class UpsertRecord(_RecordService):
    """Update the one record whose `match_fields` equal those in `data`, or create it.

    Returns (record, created). More than one match is an error (like an external id that
    is not unique). On PostgreSQL an advisory lock on the match values keeps two concurrent
    upserts of the same key from both creating.
    """

    operation = "upserted"

    def __init__(
        self,
        tenant: Tenant,
        actor,
        object_type: str,
        match_fields: list[str],
        data: dict,
        execution: Execution | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        super().__init__(tenant, actor, execution, idempotency_key)
        self.object_type = object_type
        self.match_fields = match_fields
        self.data = data

    def remember(self, result: tuple[Record, bool]) -> tuple[int | None, dict]:
        return result[0].pk, {"created": result[1]}

    def repeat(self, applied: AppliedWrite) -> tuple[Record, bool]:
        return super().repeat(applied), bool(applied.result.get("created"))

    def validate(self) -> None:
        self.type_def = type_def = get_type(self.tenant, self.object_type)
        type_def.check_unknown(self.data)
        if not isinstance(self.match_fields, list | tuple) or not self.match_fields or not all(isinstance(f, str) for f in self.match_fields):
            raise ValidationError({"match_on": "Give the list of fields that identify the record."})
        unknown = [f for f in self.match_fields if type_def.field(f) is None]
        if unknown:
            raise ValidationError({f: f"Unknown field {f!r} on {type_def.slug}; its fields are: {', '.join(type_def.field_names)}." for f in unknown})
        self.normalized = type_def.normalize(self.data)
        missing = [f for f in self.match_fields if self.normalized.get(f) is None]
        if missing:
            raise ValidationError(dict.fromkeys(missing, "needs a value to match on"))

    def perform(self) -> tuple[Record, bool]:
        type_def = self.type_def
        match = {f: self.normalized[f] for f in dict.fromkeys(self.match_fields)}
        self._lock(match)
        qs = Record.objects.for_tenant(self.tenant).filter(object_type=type_def.slug)
        for i, (name, value) in enumerate(match.items()):
            # An explicit KeyTransform, not data__<name>: a field called "contains" is still a key.
            qs = qs.alias(**{f"_m{i}": KeyTransform(name, "data")}).filter(**{f"_m{i}": value})
        found = list(qs.order_by("pk")[:2])
        if len(found) > 1:
            shown = ", ".join(f"{f}={v!r}" for f, v in match.items())
            raise ValidationError({self.match_fields[0]: f"more than one {type_def.slug} matches {shown}; upsert needs a unique match"})
        if found:
            service: _RecordService = UpdateRecord(self.tenant, self.actor, found[0], self.data, execution=self.execution)
            service.validate()
            return service.perform(), False
        service = CreateRecord(self.tenant, self.actor, type_def.slug, self.data, execution=self.execution)
        service.validate()
        return service.perform(), True

    def _lock(self, match: dict) -> None:
        if connection.vendor != "postgresql":
            return  # SQLite serialises writers on the whole database
        key = json.dumps([self.tenant.pk, self.type_def.slug, match], sort_keys=True, default=str)
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


class DefineObjectType(Service):
    """Create or change a tenant's custom object type (an admin's job: it shapes everyone's data)."""

    audit_action = "object_type.defined"
    perm = Perm.MANAGE_SETTINGS
    denied_message = "Only owners and admins can define object types."

    def __init__(self, tenant: Tenant, actor, slug: str, label: str, fields: Any) -> None:
        super().__init__(tenant, actor)
        self.slug = slug
        self.label = (label or "").strip()
        self.fields = fields

    def validate(self) -> None:
        validate_type_slug(self.slug)
        if not self.label or len(self.label) > 100:
            raise ValidationError({"label": "A type needs a label of at most 100 characters."})
        validate_object_type_definition(self.fields)

    def perform(self) -> ObjectType:
        row, _ = ObjectType.objects.update_or_create(tenant=self.tenant, slug=self.slug, defaults={"label": self.label, "fields": self.fields})
        return row
