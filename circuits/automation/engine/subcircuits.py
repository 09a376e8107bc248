"""A step starting another published circuit of its tenant: the engine's `ctx.start_circuit`.

The child is started once per step (its start is an effect applied once per idempotency
key), so the step re-run after its worker died finds the child it started instead of
starting a second one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from actions.sdk import ActionError, CircuitRun, Context, LimitExceeded
from circuits.automation.dispatch import NotRunnable, create_execution, enqueue
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.tenancy.idempotency import apply_once

WAIT_POLL_SECONDS = 0.2


def _nesting(execution: Execution | None) -> int:
    """How many sub-circuit levels `execution` already runs under."""
    depth, parent = 0, execution
    while parent is not None and parent.parent_id:
        depth += 1
        parent = parent.parent
    return depth


def start_circuit(ctx: Context, slug: str, payload: Any, *, wait: bool, run: Callable[[Execution], Execution]) -> CircuitRun:
    """Start `slug` as a child of the step's execution; with `wait`, `run` runs it here (the engine's run_now)."""
    circuit = Circuit.objects.for_tenant(ctx.tenant).filter(slug=slug).first()
    if circuit is None:
        raise ActionError(f"no circuit {slug!r} in this tenant")
    parent: Execution | None = ctx.execution
    if _nesting(parent) + 1 > ctx.limits.max_subcircuit_depth:
        limit = ctx.limits.max_subcircuit_depth
        raise LimitExceeded("max_subcircuit_depth", limit, f"sub-circuits nest deeper than {limit} levels")
    if parent is not None and circuit.pk == parent.circuit_id:
        raise ActionError("a circuit cannot call itself")
    try:
        child, _started = apply_once(
            ctx.tenant,
            ctx.idempotency_key,
            "subcircuit",
            lambda: create_execution(circuit, payload, trigger_type="subcircuit", parent=parent),
            lambda child: (child.pk, {}),
            lambda applied: Execution.objects.for_tenant(ctx.tenant).get(pk=applied.record_key),
        )
    except NotRunnable as exc:
        raise ActionError(str(exc)) from None
    if not wait:
        if not child.is_finished:
            enqueue(child)  # a worker that already holds it skips the repeat (claim)
        return CircuitRun(execution_id=child.pk, status=child.status)
    child = run(child)
    until = time.monotonic() + ctx.time_left()
    while not child.is_finished:
        # A child started before a crash may be running in another worker: wait for it, in a
        # sleep that ends when this execution is cancelled or its runner loses the lease.
        if time.monotonic() >= until:
            raise ActionError(f"sub-circuit {circuit.slug!r} did not finish before this step's deadline")
        ctx.sleep(WAIT_POLL_SECONDS)
        child.refresh_from_db()
    if child.status != ExecutionStatus.SUCCEEDED:
        message = (child.error or {}).get("message", child.status)
        raise ActionError(f"sub-circuit {circuit.slug!r} {child.status}: {message}")
    return CircuitRun(execution_id=child.pk, status=child.status, output=child.output)
