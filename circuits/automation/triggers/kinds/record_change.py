"""After a record was created, updated or deleted (committed), with field and condition filters."""

from __future__ import annotations

from django.db import transaction

from circuits.automation.models.execution import Execution
from circuits.automation.triggers.base import CONDITION_SCHEMA, OBJECT_TYPE_SCHEMA, RecordChange, TriggerKind, condition_holds, matching, start
from circuits.automation.triggers.registry import register


@register
class RecordChangeTrigger(TriggerKind):
    type = "record_change"
    label = "Record change"
    description = "Fires after a record of this type was created, updated or deleted."
    schema = {
        "type": "object",
        "required": ["object_type", "on"],
        "properties": {
            "object_type": OBJECT_TYPE_SCHEMA,
            "on": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": ["created", "updated", "deleted"]}, "title": "On"},
            "fields": {"type": "array", "items": {"type": "string"}, "title": "Only when one of these fields changed"},
            "condition": CONDITION_SCHEMA,
        },
        "additionalProperties": False,
    }
    key_field = "object_type"
    order = 40

    @classmethod
    def on_record_changed(cls, change: RecordChange) -> list[Execution]:
        started = []
        with transaction.atomic():
            for trigger in matching(change.tenant.pk, cls.type, change.object_type):
                config = trigger.config
                if trigger.circuit_id == change.source_circuit or change.operation not in config.get("on", []):
                    continue
                watched = config.get("fields")
                if change.operation == "updated" and watched and not set(watched) & set(change.changes):
                    continue
                if not condition_holds(trigger, change.payload):
                    continue
                execution = start(trigger, change.payload, event=change.event, caused_by=change.cause)
                if execution is not None:
                    started.append(execution)
        return started
