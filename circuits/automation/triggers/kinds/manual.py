"""Started by a person (Run button) or a program (POST /api/v1/circuits/<slug>/run): no matching."""

from __future__ import annotations

from circuits.automation.triggers.base import TriggerKind
from circuits.automation.triggers.registry import register

_SAMPLE = {"type": "object", "properties": {"sample_payload": {"type": "object"}}, "additionalProperties": False}


@register
class ManualTrigger(TriggerKind):
    type = "manual"
    label = "Manual"
    description = "Started by hand from the circuit's page or the builder."
    schema = _SAMPLE
    order = 10


@register
class ApiTrigger(TriggerKind):
    type = "api"
    label = "API call"
    description = "Started by an API client with POST /api/v1/circuits/<slug>/run."
    schema = _SAMPLE
    order = 20
