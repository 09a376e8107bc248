"""When a record's numeric field crosses a value: once per crossing, remembered per (trigger, record)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from circuits.automation.models.execution import Execution
from circuits.automation.models.trigger import ThresholdState
from circuits.automation.triggers.base import OBJECT_TYPE_SCHEMA, RecordChange, TriggerKind, matching, start
from circuits.automation.triggers.registry import register
from circuits.records.models import Record


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@register
class ThresholdTrigger(TriggerKind):
    type = "threshold"
    label = "Threshold"
    description = "Fires when a numeric field of a record of this type crosses a value (once per crossing)."
    schema = {
        "type": "object",
        "required": ["object_type", "field", "value"],
        "properties": {
            "object_type": OBJECT_TYPE_SCHEMA,
            "field": {"type": "string", "minLength": 1, "title": "Numeric field"},
            "value": {"type": "number", "title": "Threshold"},
            "direction": {"enum": ["above", "below"], "default": "above", "title": "Fires when the value crosses"},
        },
        "additionalProperties": False,
    }
    key_field = "object_type"
    order = 80

    @classmethod
    def on_record_changed(cls, change: RecordChange) -> list[Execution]:
        if change.operation == "deleted":
            return []
        started = []
        with transaction.atomic():
            triggers = list(matching(change.tenant.pk, cls.type, change.object_type))
            if not triggers or not Record.objects.filter(pk=change.record_id).exists():
                return started
            for trigger in triggers:
                config = trigger.config
                value = _as_number(change.new.get(config["field"]))
                if value is None:
                    continue
                above = value >= float(config["value"])
                state = ThresholdState.objects.select_for_update().filter(trigger=trigger, record_id=change.record_id).first()
                previous = state.above if state is not None else None
                if state is None:
                    ThresholdState.objects.create(trigger=trigger, record_id=change.record_id, above=above)
                elif state.above != above:
                    state.above = above
                    state.save(update_fields=["above"])
                wanted = config.get("direction", "above") == "above"
                # Fires once per crossing: when the side changes to the watched one (or starts on it).
                if above == wanted and previous != above and trigger.circuit_id != change.source_circuit:
                    crossed = {"field": config["field"], "value": config["value"], "crossed": config.get("direction", "above")}
                    execution = start(trigger, {**change.payload, "threshold": crossed}, event=change.event, caused_by=change.cause)
                    if execution is not None:
                        started.append(execution)
        return started
