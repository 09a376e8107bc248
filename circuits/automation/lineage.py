"""Lineage across circuits: which execution's side effect started an execution, and a limit on chains.

Executions start each other through side effects: a record write fires record triggers,
before-save circuits and thresholds, an event fires event triggers, a finished execution fires
"circuit completed" triggers. Two circuits that each create the record the other listens for
would run forever, so every such start carries its lineage — `caused_by` (the execution whose
step caused it) and `chain_depth` (1 for an execution started by a person, an API call, a
schedule or a webhook; the cause's depth + 1 otherwise). Like Salesforce's "maximum trigger
depth exceeded", a start beyond `ENGINE_MAX_CHAIN_DEPTH` is refused:

- it is not run, but recorded as a *failed* execution of the circuit it would have run, whose
  error names the chain (so it shows up in the circuit's executions and in the metrics);
- the tenant gets one in-app notification per chain (not one per refused start: a chain that
  fans out would otherwise flood the bell);
- the write or event that caused it still stands — it was committed before its triggers fired;
- a refused *before-save* circuit fails the save itself with a validation error naming the
  limit, as a synchronous trigger does in Salesforce.

Sub-circuits are not chained starts: they keep the depth of their parent (they have their own
limit, `max_subcircuit_depth`).

Code that creates executions during a step does not need to pass the running execution
around: the engine sets it in a context variable around each step (`running_step`), which
`create_execution` reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.notifications import create_notifications

SUBCIRCUIT = "subcircuit"
REFUSED = "chain_depth"  # error["type"] of a refused start
NOTIFY_ONCE_SECONDS = 24 * 3600

_running: ContextVar[Execution | None] = ContextVar("circuitos_running_execution", default=None)


def max_chain_depth() -> int:
    return int(getattr(settings, "ENGINE_MAX_CHAIN_DEPTH", 10))


def running_execution() -> Execution | None:
    """The execution whose step is running in this thread (or context), if any."""
    return _running.get()


@contextlib.contextmanager
def running_step(execution: Execution) -> Iterator[None]:
    token = _running.set(execution)
    try:
        yield
    finally:
        _running.reset(token)


@dataclass(frozen=True)
class Lineage:
    cause: Execution | None
    depth: int

    @property
    def too_deep(self) -> bool:
        return self.depth > max_chain_depth()


def lineage_for(*, trigger_type: str, parent: Execution | None, caused_by: Execution | None) -> Lineage:
    """The lineage of a new execution: explicit cause, else the execution running this step."""
    if trigger_type == SUBCIRCUIT and parent is not None:
        return Lineage(cause=None, depth=parent.chain_depth)
    cause = caused_by if caused_by is not None else running_execution()
    if cause is None:
        return Lineage(cause=None, depth=1)
    return Lineage(cause=cause, depth=cause.chain_depth + 1)


def _chain(cause: Execution) -> list[Execution]:
    """The chain that led to `cause`, oldest first (a few queries, only when a start is refused)."""

    chain = [cause]
    seen = {cause.pk}
    current = cause
    for _ in range(max_chain_depth() + 1):
        if current.caused_by_id is None or current.caused_by_id in seen:
            break
        current = Execution.objects.select_related("circuit").filter(pk=current.caused_by_id).first()
        if current is None:
            break
        seen.add(current.pk)
        chain.append(current)
    return list(reversed(chain))


def _describe(chain: list[Execution], circuit_slug: str) -> str:
    slugs = [e.circuit.slug for e in chain] + [circuit_slug]
    if len(slugs) > 7:
        slugs = [*slugs[:3], "…", *slugs[-3:]]
    return " → ".join(slugs)


def refuse(execution: Execution, lineage: Lineage) -> Execution:
    """Save the unsaved `execution` as failed, never run, naming the chain; notify the tenant once per chain."""

    limit = max_chain_depth()
    circuit = execution.circuit
    chain = _chain(lineage.cause) if lineage.cause is not None else []
    message = (
        f"Not run: executions kept starting each other through their side effects ({_describe(chain, circuit.slug)}); "
        f"this would be number {lineage.depth} in the chain and the platform allows {limit} (ENGINE_MAX_CHAIN_DEPTH). "
        f"Change the triggers or conditions of these circuits so they stop firing each other."
    )
    execution.chain_depth = min(lineage.depth, 32767)
    execution.status = ExecutionStatus.FAILED
    execution.finished_at = timezone.now()
    execution.error = {
        "type": REFUSED,
        "message": message,
        "limit": "ENGINE_MAX_CHAIN_DEPTH",
        "value": limit,
        "chain": [{"execution": e.pk, "circuit": e.circuit.slug} for e in chain],
    }
    execution.save(force_insert=True)
    root = chain[0] if chain else execution
    # Notified once the refusal is committed: a before-save refusal rolls back with its save.
    transaction.on_commit(lambda: _notify_once(execution, root, circuit, chain))
    return execution


def _notify_once(execution: Execution, root: Execution, circuit, chain: list[Execution]) -> None:
    # One notification per chain (keyed by its first execution), however many starts it refuses.
    key = f"circuitos:chain-refused:{root.pk}:{root.created_at.timestamp():.6f}"
    if not cache.add(key, execution.pk, timeout=NOTIFY_ONCE_SECONDS):
        return
    tenant = execution.tenant
    link = reverse("execution_detail", kwargs={"tenant_slug": tenant.slug, "pk": execution.pk})
    create_notifications(
        tenant,
        title=f"A chain of executions was stopped before {circuit.name!r}",
        body=(
            f"{len(chain)} executions in a row started each other through their side effects "
            f"({_describe(chain, circuit.slug)}). The next start was refused: the platform allows "
            f"{max_chain_depth()} in a chain. Check the triggers of these circuits."
        ),
        level="error",
        link=link,
        execution=execution,
    )
