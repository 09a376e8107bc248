"""Apex-style before-save: circuits that run in this process, inside the save's transaction,
within a time budget, and may change the fields being saved (control.set_record_fields) or
refuse the save (control.reject_save)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from circuits.automation.dispatch import ChainTooDeep, NotRunnable, create_execution
from circuits.automation.engine.runner import run_now
from circuits.automation.models.execution import ExecutionStatus
from circuits.automation.triggers.base import OBJECT_TYPE_SCHEMA, TriggerKind, matching
from circuits.automation.triggers.registry import register
from circuits.tenancy.models.tenants import Tenant

_CHAIN_REFUSED = "The save was blocked: the chain-depth limit refused to run before-save circuit"
_OPERATIONS = ["created", "updated"]


@register
class BeforeSaveTrigger(TriggerKind):
    type = "before_save"
    label = "Before save"
    description = "Runs before a record of this type is saved; may change its fields or refuse the save."
    schema = {
        "type": "object",
        "required": ["object_type"],
        "properties": {
            "object_type": OBJECT_TYPE_SCHEMA,
            "on": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": _OPERATIONS}, "default": _OPERATIONS},
            "budget_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 30, "default": 5, "title": "Time budget (s)"},
        },
        "additionalProperties": False,
    }
    key_field = "object_type"
    order = 50

    @classmethod
    def before_record_save(cls, tenant: Tenant, object_type: str, operation: str, fields: dict, old: dict | None, record_id: int | None) -> None:
        triggers = [t for t in matching(tenant.pk, cls.type, object_type) if operation in t.config.get("on", _OPERATIONS)]
        for trigger in triggers:
            payload = {"record": {"id": record_id, "object_type": object_type, **fields}, "old": old or {}, "operation": operation, "object_type": object_type}
            try:
                # Its cause is the execution whose step is saving (if any): before-save circuits that
                # save records of their own type would otherwise recurse without end.
                execution = create_execution(trigger.circuit, payload, trigger=trigger)
            except ChainTooDeep as refused:
                raise ValidationError(f"{_CHAIN_REFUSED} {trigger.circuit.name!r}. {refused}") from None
            except NotRunnable:
                continue
            execution = run_now(execution, budget_seconds=float(trigger.config.get("budget_seconds", 5)))
            if execution.status == ExecutionStatus.FAILED:
                error = execution.error or {}
                if error.get("type") == "stop":
                    raise ValidationError(error.get("message") or "The save was rejected.")
                message = str(error.get("message", "unknown error"))
                if (refusal := message.rfind(_CHAIN_REFUSED)) >= 0:
                    # A chain of before-save circuits saving records: say why once, not once per level.
                    raise ValidationError(message[refusal:])
                raise ValidationError(f"The save was blocked because before-save circuit {trigger.circuit.name!r} failed: {message}")
            if execution.status != ExecutionStatus.SUCCEEDED:
                raise ValidationError(f"Before-save circuit {trigger.circuit.name!r} did not finish ({execution.status}); before-save circuits cannot wait.")
            fields.update((execution.vars or {}).get("record_fields", {}))
