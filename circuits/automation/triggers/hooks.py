"""The trigger machinery's receivers of the record store's and the engine's signals.

Connected in CircuitsConfig.ready(). Each receiver builds what the signal means once (the
record change with its cause and platform events, the completion payload) and lets every
registered kind react through its hooks (circuits/automation/triggers/base.py), so a kind that reacts
to records or completions is still one module.
"""

from __future__ import annotations

from typing import Any

from circuits.automation.engine.signals import execution_finished
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.triggers import registry
from circuits.automation.triggers.base import RecordChange
from circuits.automation.triggers.kinds.event import publish_record_events
from circuits.records.models import Record
from circuits.records.signals import record_before_save, record_changed
from circuits.tenancy.models.tenants import Tenant

# Only what lineage needs of the writing execution, not its (large) payloads.
_LINEAGE_FIELDS = ("pk", "tenant_id", "circuit_id", "chain_depth", "caused_by_id", "created_at")


def _changes(old: dict, new: dict) -> dict:
    return {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def on_record_before_save(
    sender: Any, *, tenant: Tenant, object_type: str, operation: str, fields: dict, old: dict | None, record_id: int | None, **kwargs: Any
) -> None:
    for kind in registry.all_kinds():
        kind.before_record_save(tenant, object_type, operation, fields, old, record_id)


def on_record_changed(
    sender: Any,
    *,
    tenant_id: int,
    record_id: int,
    object_type: str,
    operation: str,
    old: dict | None,
    new: dict | None,
    execution_id: int | None = None,
    **kwargs: Any,
) -> list[Execution]:
    """After a record write commits: publish its events, then let record-change and threshold triggers fire."""
    tenant = Tenant.objects.get(pk=tenant_id)
    old, new = old or {}, new or {}
    changes = _changes(old, new)
    # The execution that wrote the record is the cause of what its write starts (lineage and
    # the chain-depth limit), also when this runs after its step, on the commit of an outer transaction.
    cause = Execution.objects.filter(pk=execution_id, tenant_id=tenant_id).only(*_LINEAGE_FIELDS).first() if execution_id else None
    record = {"id": record_id, "object_type": object_type, **new}
    payload = {"record": record, "old": old, "changes": changes, "operation": operation, "object_type": object_type}
    change = RecordChange(tenant, record_id, object_type, operation, old, new, changes, cause, payload)
    publish_record_events(change)
    for kind in registry.all_kinds():
        change.started += kind.on_record_changed(change)
    return change.started


def on_execution_finished(sender: Any, *, execution: Execution, **kwargs: Any) -> list[Execution]:
    """Fire circuit-completed triggers and the execution.failed / execution.succeeded events."""
    if execution.is_test or execution.status not in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
        return []
    payload = {
        "execution": execution.pk,
        "circuit": execution.circuit.slug,
        "status": execution.status,
        "output": execution.output,
        "error": execution.error,
        "input": execution.input,
        "chain_depth": execution.chain_depth + 1,
    }
    started: list[Execution] = []
    for kind in registry.all_kinds():
        started += kind.on_execution_finished(execution, payload)
    return started


def connect() -> None:
    """Idempotent (dispatch_uid): ready() may run more than once in tests."""
    record_before_save.connect(on_record_before_save, sender=Record, dispatch_uid="circuits.automation.triggers.before_save")
    record_changed.connect(on_record_changed, sender=Record, dispatch_uid="circuits.automation.triggers.record_changed")
    execution_finished.connect(on_execution_finished, sender=Execution, dispatch_uid="circuits.automation.triggers.execution_finished")
