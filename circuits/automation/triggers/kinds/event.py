"""Platform events: a name from the catalogue (or a tenant's custom one), optionally filtered by a condition.

Besides events published by the API, the pages and actions, every committed record write
publishes its events (lead.created, opportunity.won, …) and every finished execution
publishes execution.succeeded / execution.failed when some circuit listens.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.models.trigger import Event
from circuits.automation.triggers import listening
from circuits.automation.triggers.base import CONDITION_SCHEMA, RecordChange, TriggerKind, condition_holds, matching, start_many, with_published_version
from circuits.automation.triggers.catalogue import derived_events, unknown_event_message
from circuits.automation.triggers.registry import register
from circuits.tenancy.models.tenants import Tenant

EXECUTION_EVENT_PREFIX = "execution."


def publish_event(
    tenant: Tenant,
    name: str,
    payload: dict | None = None,
    *,
    source: str = "",
    skip_circuit_id: int | None = None,
    caused_by: Execution | None = None,
) -> tuple[Event, list[Execution]]:
    """Record the event and start one execution per matching enabled trigger of `tenant`.

    `caused_by`: the execution whose side effect this event is (default: the one running the
    current step, if any); the executions started carry that lineage.
    """
    payload = payload if payload is not None else {}
    with transaction.atomic():
        event = Event.objects.create(tenant=tenant, name=name, payload=payload, source=source)
        context = {"event": payload, "trigger": payload}
        firing = [
            trigger
            for trigger in with_published_version(matching(tenant.pk, EventTrigger.type, name))
            if trigger.circuit_id != skip_circuit_id and condition_holds(trigger, context)
        ]
        # One bulk INSERT and one worker message however many circuits listen (a fan-out); a
        # big fan-out is bulk work: its runs queue behind nobody's wait.
        kind = "bulk" if len(firing) >= settings.ENGINE_BULK_FANOUT else "default"
        started = start_many(firing, payload, event=event, caused_by=caused_by, kind=kind)
    return event, started


def publish_record_events(change: RecordChange) -> None:
    """The platform events of a record write; the first becomes `change.event`."""
    for name in derived_events(change.object_type, change.operation, change.old, change.new):
        event, executions = publish_event(
            change.tenant,
            name,
            change.payload,
            source=f"record:{change.object_type}:{change.record_id}",
            skip_circuit_id=change.source_circuit,
            caused_by=change.cause,
        )
        change.event = change.event or event
        change.started += executions


@register
class EventTrigger(TriggerKind):
    type = "event"
    label = "Platform event"
    description = "Fires when a platform or custom event of this name is published."
    schema = {
        "type": "object",
        "required": ["event"],
        "properties": {"event": {"type": "string", "minLength": 1, "maxLength": 200, "title": "Event name"}, "condition": CONDITION_SCHEMA},
        "additionalProperties": False,
    }
    key_field = "event"
    order = 30

    @classmethod
    def check_in_tenant(cls, tenant: Tenant, config: dict) -> list[str]:
        # A trigger on a name nothing publishes would never fire: say so when it is saved.
        message = unknown_event_message(tenant, config["event"])
        return [f"config.event: {message}"] if message else []

    @classmethod
    def on_execution_finished(cls, execution: Execution, payload: dict) -> list[Execution]:
        # Do not announce the outcome of circuits that handle outcomes (no feedback loops).
        if execution.event_id and execution.event.name.startswith(EXECUTION_EVENT_PREFIX):
            return []
        name = EXECUTION_EVENT_PREFIX + ("failed" if execution.status == ExecutionStatus.FAILED else "succeeded")
        # Only recorded when some circuit listens: one event row per execution would be noise.
        if not listening.listens(execution.tenant_id, cls.type, name):
            return []
        source = f"execution:{execution.pk}"
        _event, started = publish_event(execution.tenant, name, payload, source=source, skip_circuit_id=execution.circuit_id, caused_by=execution)
        return started
