"""Platform events and the triggers they fire.

Matching is an indexed lookup on (tenant, type, key) over enabled triggers of enabled
circuits of *that tenant only*; every match starts one execution, linked to the event.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from circuits.engine.expressions import ExpressionError, render_value
from circuits.engine.start import ChainTooDeep, NotRunnable, create_execution, enqueue, run_now
from circuits.models import Event, Execution, ExecutionStatus, Record, Tenant, ThresholdState, Trigger, TriggerType, VersionStatus

log = logging.getLogger(__name__)


def _matching(tenant_id: int, type_: str, key: str):
    return (
        Trigger.objects.filter(tenant_id=tenant_id, type=type_, key=key, enabled=True, circuit__enabled=True)
        .filter(circuit__versions__status=VersionStatus.PUBLISHED)
        .select_related("circuit")
        .order_by("pk")
    )


def _condition_holds(trigger: Trigger, context: dict) -> bool:
    condition = (trigger.config or {}).get("condition")
    if not condition:
        return True
    expression = condition if "{{" in condition else "{{ " + condition + " }}"
    try:
        return bool(render_value(expression, context))
    except ExpressionError:
        log.warning("trigger %s: condition failed to evaluate; not firing", trigger.pk, exc_info=True)
        return False


def _start(
    trigger: Trigger, payload: dict, *, event: Event | None = None, parent: Execution | None = None, caused_by: Execution | None = None
) -> Execution | None:
    """Start the trigger's circuit; None when it cannot run or the chain it would extend is too long.

    A refused start is recorded as a failed execution (see circuits/engine/lineage.py); the
    write or event that fired the trigger stands.
    """
    try:
        execution = create_execution(trigger.circuit, payload, trigger=trigger, event=event, parent=parent, caused_by=caused_by)
    except ChainTooDeep as refused:
        log.warning("trigger %s: %s", trigger.pk, refused)
        return None
    except NotRunnable:
        return None
    enqueue(execution)
    return execution


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
        started = []
        context = {"event": payload, "trigger": payload}
        for trigger in _matching(tenant.pk, TriggerType.EVENT, name):
            if trigger.circuit_id == skip_circuit_id or not _condition_holds(trigger, context):
                continue
            execution = _start(trigger, payload, event=event, caused_by=caused_by)
            if execution is not None:
                started.append(execution)
    return event, started


# --- records -----------------------------------------------------------------------------


def _derived_events(object_type: str, operation: str, old: dict, new: dict) -> list[str]:
    names = [f"{object_type}.{operation}"]
    if operation != "updated":
        return names
    if object_type == "lead":
        if old.get("score") != new.get("score"):
            names.append("lead.score_changed")
        if new.get("status") == "converted" and old.get("status") != "converted":
            names.append("lead.converted")
    if object_type == "opportunity" and old.get("stage") != new.get("stage"):
        names.append("opportunity.stage_changed")
        if new.get("stage") == "closed_won":
            names.append("opportunity.won")
        elif new.get("stage") == "closed_lost":
            names.append("opportunity.lost")
    return names


def _changes(old: dict, new: dict) -> dict:
    return {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def record_changed(
    tenant_id: int, record_id: int, object_type: str, operation: str, old_data: dict | None, new_data: dict | None, execution_id: int | None = None
) -> list[Execution]:
    """After a record write commits: publish its events, fire record-change and threshold triggers."""
    tenant = Tenant.objects.get(pk=tenant_id)
    old, new = old_data or {}, new_data or {}
    changes = _changes(old, new)
    # The execution that wrote the record is the cause of what its write starts (lineage and
    # the chain-depth limit), also when this runs after its step, on the commit of an outer transaction.
    lineage_fields = ("pk", "tenant_id", "circuit_id", "chain_depth", "caused_by_id", "created_at")  # not its (large) payloads
    cause = Execution.objects.filter(pk=execution_id, tenant_id=tenant_id).only(*lineage_fields).first() if execution_id else None
    # A circuit does not re-trigger itself directly through the records it writes.
    source_circuit = cause.circuit_id if cause is not None else None
    record = {"id": record_id, "object_type": object_type, **new}
    payload = {"record": record, "old": old, "changes": changes, "operation": operation, "object_type": object_type}
    started: list[Execution] = []
    first_event = None
    for name in _derived_events(object_type, operation, old, new):
        event, executions = publish_event(tenant, name, payload, source=f"record:{object_type}:{record_id}", skip_circuit_id=source_circuit, caused_by=cause)
        first_event = first_event or event
        started += executions
    with transaction.atomic():
        for trigger in _matching(tenant_id, TriggerType.RECORD_CHANGE, object_type):
            config = trigger.config
            if trigger.circuit_id == source_circuit or operation not in config.get("on", []):
                continue
            watched = config.get("fields")
            if operation == "updated" and watched and not set(watched) & set(changes):
                continue
            if not _condition_holds(trigger, payload):
                continue
            execution = _start(trigger, payload, event=first_event, caused_by=cause)
            if execution is not None:
                started.append(execution)
        if operation != "deleted":
            started += _thresholds(tenant_id, record_id, object_type, old, new, payload, first_event, source_circuit, cause)
    return started


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _thresholds(tenant_id, record_id, object_type, old, new, payload, event, source_circuit, cause) -> list[Execution]:
    started = []
    triggers = list(_matching(tenant_id, TriggerType.THRESHOLD, object_type))
    if not triggers or not Record.objects.filter(pk=record_id).exists():
        return started
    for trigger in triggers:
        config = trigger.config
        value = _as_number(new.get(config["field"]))
        if value is None:
            continue
        above = value >= float(config["value"])
        state = ThresholdState.objects.select_for_update().filter(trigger=trigger, record_id=record_id).first()
        previous = state.above if state is not None else None
        if state is None:
            ThresholdState.objects.create(trigger=trigger, record_id=record_id, above=above)
        elif state.above != above:
            state.above = above
            state.save(update_fields=["above"])
        wanted = config.get("direction", "above") == "above"
        # Fires once per crossing: when the side changes to the watched one (or starts on it).
        if above == wanted and previous != above and trigger.circuit_id != source_circuit:
            execution = _start(
                trigger,
                {**payload, "threshold": {"field": config["field"], "value": config["value"], "crossed": config.get("direction", "above")}},
                event=event,
                caused_by=cause,
            )
            if execution is not None:
                started.append(execution)
    return started


_CHAIN_REFUSED = "The save was blocked: the chain-depth limit refused to run before-save circuit"


def run_before_save(tenant: Tenant, object_type: str, operation: str, new_data: dict, old_data: dict | None, record_id: int | None) -> dict:
    """Run before-save circuits in this process; returns the data to save or raises ValidationError."""
    data = dict(new_data)
    triggers = [t for t in _matching(tenant.pk, TriggerType.BEFORE_SAVE, object_type) if operation in t.config.get("on", ["created", "updated"])]
    for trigger in triggers:
        payload = {"record": {"id": record_id, "object_type": object_type, **data}, "old": old_data or {}, "operation": operation, "object_type": object_type}
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
        data.update((execution.vars or {}).get("record_fields", {}))
    return data


# --- chaining --------------------------------------------------------------------------


def execution_finished(execution: Execution) -> list[Execution]:
    """Fire circuit-completed triggers and the execution.failed / execution.succeeded events.

    What they start is caused by `execution` (its lineage), so circuits that complete into each
    other stop at ENGINE_MAX_CHAIN_DEPTH like every other chain.
    """
    if execution.is_test or execution.status not in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
        return []
    started: list[Execution] = []
    payload = {
        "execution": execution.pk,
        "circuit": execution.circuit.slug,
        "status": execution.status,
        "output": execution.output,
        "error": execution.error,
        "input": execution.input,
        "chain_depth": execution.chain_depth + 1,
    }
    with transaction.atomic():
        for trigger in _matching(execution.tenant_id, TriggerType.CIRCUIT_COMPLETED, execution.circuit.slug):
            wanted = trigger.config.get("on", "succeeded")
            if trigger.circuit_id == execution.circuit_id or (wanted != "any" and wanted != execution.status):
                continue
            child = _start(trigger, payload, parent=execution, caused_by=execution)
            if child is not None:
                started.append(child)
    # Do not announce failures of circuits that handle failures (no feedback loops).
    triggered_by_execution_event = execution.event_id and execution.event.name.startswith("execution.")
    name = "execution.failed" if execution.status == ExecutionStatus.FAILED else "execution.succeeded"
    # Only recorded when some circuit listens: one event row per execution would be noise.
    if not triggered_by_execution_event and _matching(execution.tenant_id, TriggerType.EVENT, name).exists():
        _event, executions = publish_event(
            execution.tenant, name, payload, source=f"execution:{execution.pk}", skip_circuit_id=execution.circuit_id, caused_by=execution
        )
        started += executions
    return started
