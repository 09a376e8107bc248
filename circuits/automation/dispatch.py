"""Creating executions and handing them to a worker (or running them right here)."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction

from circuits.automation import lineage
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.models.version import CircuitVersion, VersionStatus
from circuits.core.queues import queue_for

log = logging.getLogger(__name__)


class NotRunnable(Exception):
    """The circuit cannot run (disabled, nothing published, its chain of executions too long)."""


class ChainTooDeep(NotRunnable):
    """Refused by the chain-depth limit (circuits/automation/lineage.py); `execution` is the failed one recording it."""

    def __init__(self, execution: Execution):
        super().__init__(execution.error["message"])
        self.execution = execution


def published_version(circuit: Circuit) -> CircuitVersion | None:
    return CircuitVersion.objects.filter(circuit=circuit, status=VersionStatus.PUBLISHED).first()


def build_execution(
    circuit: Circuit,
    payload: Any,
    *,
    version: CircuitVersion | None = None,
    trigger=None,
    trigger_type: str = "manual",
    event=None,
    started_by=None,
    is_test: bool = False,
    parent: Execution | None = None,
    rerun_of: Execution | None = None,
    caused_by: Execution | None = None,
) -> Execution:
    """A queued execution, not saved yet (an inline run writes it when it ends, circuits/automation/engine/inline.py).

    `caused_by` (default: the execution running the current step) is its lineage; a start that
    would make the chain too long raises ChainTooDeep (a NotRunnable)."""
    if version is None:
        if not circuit.enabled:
            raise NotRunnable(f"circuit {circuit.slug!r} is disabled")
        version = published_version(circuit)
        if version is None:
            raise NotRunnable(f"circuit {circuit.slug!r} has no published version")
    chain = lineage.lineage_for(trigger_type=trigger.type if trigger is not None else trigger_type, parent=parent, caused_by=caused_by)
    execution = _unsaved(
        circuit,
        payload,
        version,
        chain,
        trigger=trigger,
        trigger_type=trigger_type,
        event=event,
        started_by=started_by,
        is_test=is_test,
        parent=parent,
        rerun_of=rerun_of,
    )
    if chain.too_deep:
        raise ChainTooDeep(lineage.refuse(execution, chain))
    return execution


def _unsaved(
    circuit: Circuit, payload: Any, version, chain: lineage.Lineage, *, trigger, trigger_type, event, started_by, is_test, parent, rerun_of
) -> Execution:
    return Execution(
        tenant_id=circuit.tenant_id,
        circuit=circuit,
        version=version,
        trigger=trigger,
        trigger_type=trigger.type if trigger is not None else trigger_type,
        event=event,
        input=payload if payload is not None else {},
        started_by=started_by,
        is_test=is_test,
        parent=parent,
        rerun_of=rerun_of,
        caused_by=chain.cause,
        chain_depth=chain.depth,
    )


def create_execution(circuit: Circuit, payload: Any, **kwargs: Any) -> Execution:
    """A queued execution, saved (see build_execution for the arguments)."""
    execution = build_execution(circuit, payload, **kwargs)
    execution.save(force_insert=True)
    return execution


def create_executions(triggers: list, payload: Any, *, event=None, parent: Execution | None = None, caused_by: Execution | None = None) -> list[Execution]:
    """Queued executions of several triggers' circuits fired by one cause, in ONE bulk INSERT.

    Each trigger carries `published_version_id` (annotated by the caller's matching query) and
    its `circuit` (enabled: matching asked for it). They share one cause, so one lineage: a chain
    that is too long refuses all of them, each recorded as a failed execution as `create_execution` does.
    """
    if not triggers:
        return []
    chain = lineage.lineage_for(trigger_type=triggers[0].type, parent=parent, caused_by=caused_by)
    executions = []
    for trigger in triggers:
        if trigger.published_version_id is None:
            continue  # unpublished since the matching query ran: nothing to run (as `create_execution` refuses)
        execution = _unsaved(
            trigger.circuit,
            payload,
            None,
            chain,
            trigger=trigger,
            trigger_type=trigger.type,
            event=event,
            started_by=None,
            is_test=False,
            parent=parent,
            rerun_of=None,
        )
        execution.version_id = trigger.published_version_id
        executions.append(execution)
    if chain.too_deep:
        for execution in executions:
            lineage.refuse(execution, chain)
            log.warning("trigger %s: %s", execution.trigger_id, execution.error["message"])
        return []
    return Execution.objects.bulk_create(executions)


# The worker task that claims and runs an execution (circuits/automation/tasks.py). Dispatch
# sits below the engine and the tasks that run it, so it finds the task by name in the Celery
# app's registry instead of importing it; `apply_async` on it still honours eager mode.
RUN_EXECUTION_TASK = "circuits.automation.tasks.run_execution"
RUN_EXECUTIONS_TASK = "circuits.automation.tasks.run_executions"


def send_to_worker(execution_id: int, kind: str = "default") -> None:
    """Send the run to the queue of `kind` (circuits/core/queues.py), named when it is sent."""
    current_app.tasks[RUN_EXECUTION_TASK].apply_async((execution_id,), queue=queue_for(kind))


def send_many_to_worker(execution_ids: list[int], kind: str = "default") -> None:
    """ONE message for many executions (a fan-out): the worker taking it shares it out (tasks.run_executions)."""
    if len(execution_ids) == 1:
        send_to_worker(execution_ids[0], kind)
    elif execution_ids:
        current_app.tasks[RUN_EXECUTIONS_TASK].apply_async((list(execution_ids), kind), queue=queue_for(kind))


def execution_kind(execution: Execution) -> str:
    """The kind of work a run is when its starter names none: a test run has someone watching
    it in the builder; a schedule's runs go with beat's work; the rest is default."""
    if execution.is_test:
        return "interactive"
    if execution.trigger_type == "schedule":
        return "scheduled"
    return "default"


def enqueue(execution: Execution, kind: str | None = None) -> None:
    """Hand the execution to a worker once the surrounding transaction commits; `kind`:
    interactive for a run its caller waits for, bulk for one of a large fan-out."""
    execution_id = execution.pk
    kind = kind or execution_kind(execution)
    transaction.on_commit(lambda: send_to_worker(execution_id, kind))


def enqueue_many(executions: list[Execution], kind: str = "default") -> None:
    """Hand the executions to the workers in one message once the surrounding transaction commits."""
    ids = [e.pk for e in executions]
    if ids:
        transaction.on_commit(lambda: send_many_to_worker(ids, kind))


def claim(execution_id: int) -> Execution | None:
    """Take ownership of an execution for this worker, or None if it is not ours to run.

    A lease that lapsed (database time) lets another worker take over an execution whose
    runner died. The new owner token makes every write of the previous owner fail from now
    on (see circuits.automation.engine.lease); the transition itself is `ExecutionQuerySet.claim`.
    """
    return Execution.objects.claim(execution_id)
