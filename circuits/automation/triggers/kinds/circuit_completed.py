"""Chaining: fires when another circuit of the tenant finished (succeeded, failed or either)."""

from __future__ import annotations

from django.db import transaction

from circuits.automation.models.execution import Execution
from circuits.automation.triggers import listening
from circuits.automation.triggers.base import TriggerKind, matching, start
from circuits.automation.triggers.registry import register


@register
class CircuitCompletedTrigger(TriggerKind):
    type = "circuit_completed"
    label = "Circuit completed"
    description = "Fires when an execution of the named circuit finished."
    schema = {
        "type": "object",
        "required": ["circuit"],
        "properties": {
            "circuit": {"type": "string", "minLength": 1, "title": "Circuit (slug)"},
            "on": {"enum": ["succeeded", "failed", "any"], "default": "succeeded", "title": "When it"},
        },
        "additionalProperties": False,
    }
    key_field = "circuit"
    order = 90

    @classmethod
    def on_execution_finished(cls, execution: Execution, payload: dict) -> list[Execution]:
        # What it starts is caused by `execution` (its lineage), so circuits that complete into
        # each other stop at ENGINE_MAX_CHAIN_DEPTH like every other chain.
        if not listening.listens(execution.tenant_id, cls.type, execution.circuit.slug):
            return []  # nearly always: no SQL (circuits/automation/triggers/listening.py)
        started = []
        with transaction.atomic():
            for trigger in matching(execution.tenant_id, cls.type, execution.circuit.slug):
                wanted = trigger.config.get("on", "succeeded")
                if trigger.circuit_id == execution.circuit_id or (wanted != "any" and wanted != execution.status):
                    continue
                child = start(trigger, payload, parent=execution, caused_by=execution)
                if child is not None:
                    started.append(child)
        return started
