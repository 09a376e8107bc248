"""Parallel branches, for-each loops, sub-circuits and Stop."""

from __future__ import annotations

import contextvars
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection

from actions.base import Action, ActionError, Context, Stop
from actions.registry import register
from circuits.engine.limits import LimitExceeded


def _body_data(data: dict, **extra: Any) -> dict:
    # Bodies share `steps` (so later steps can read them) but get their own loop variables.
    return {**data, **extra}


@register
class Parallel(Action):
    name = "control.parallel"
    idempotent = True  # its finished body steps are reused when it runs again
    category = "control"
    label = "Parallel"
    description = "Runs each branch at the same time and continues on 'done' when all have finished."
    container = True
    side_effects = False
    ports = ("done",)
    schema = {
        "type": "object",
        "required": ["branches"],
        "properties": {
            "branches": {
                "type": "array",
                "minItems": 2,
                "maxItems": 10,
                "uniqueItems": True,
                "title": "Branches",
                "description": 'One port per branch, e.g. ["a", "b"]',
                "items": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,40}$"},
            }
        },
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "description": "The last output of each branch, by branch name."}

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        reserved = {"done", "error", "next"} & set(config.get("branches", []))
        return [f"branches: {', '.join(sorted(reserved))} is a reserved port name"] if reserved else []

    @classmethod
    def dynamic_ports(cls, config: dict) -> tuple[str, ...]:
        return (*config.get("branches", []), "done")

    def run(self, ctx: Context, config: dict) -> Any:
        engine = ctx.engine
        branches = config["branches"]
        if len(branches) > engine.limits.max_parallel_branches:
            # A governor limit fails the execution: it is never routed to an error port.
            limit = engine.limits.max_parallel_branches
            raise LimitExceeded("max_parallel_branches", limit, f"{len(branches)} parallel branches in {ctx.node_key!r}")

        def run_branch(branch: str) -> Any:
            try:
                return engine.run_body(ctx.node_key, branch, f"{ctx.scope}/{ctx.node_key}.{branch}", _body_data(ctx.data))
            finally:
                connection.close()  # each branch thread has its own DB connection

        with ThreadPoolExecutor(max_workers=len(branches), thread_name_prefix=f"par-{ctx.node_key}") as pool:
            # Each branch gets a copy of this thread's context (the running execution: lineage).
            futures = {branch: pool.submit(contextvars.copy_context().run, run_branch, branch) for branch in branches}
            outputs, failures = {}, []
            for branch, future in futures.items():
                try:
                    outputs[branch] = future.result()
                except BaseException as exc:  # collected so every branch finishes first (the join)
                    failures.append(exc)
        if failures:
            parked = [f for f in failures if type(f).__name__ == "Parked"]
            others = [f for f in failures if type(f).__name__ != "Parked"]
            if others:
                # A governor limit in any branch fails the execution as a limit, whatever else failed.
                raise next((f for f in others if isinstance(f, LimitExceeded)), others[0])
            raise min(parked, key=lambda p: p.until)
        return outputs


@register
class Loop(Action):
    name = "control.loop"
    idempotent = True  # its finished body steps are reused when it runs again
    category = "control"
    label = "Loop (for each)"
    description = "Runs the 'each' body once per item of a list ({{ loop.item }}, {{ loop.index }}), then continues on 'done'."
    container = True
    side_effects = False
    ports = ("each", "done")
    schema = {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"title": "Items", "description": "A list, usually an expression such as {{ steps.get.output.records }}"},
            "max_iterations": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000, "title": "At most"},
        },
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "properties": {"count": {"type": "integer"}, "results": {"type": "array"}}}

    def run(self, ctx: Context, config: dict) -> Any:
        items = config["items"]
        if isinstance(items, dict):
            items = [{"key": k, "value": v} for k, v in items.items()]
        if not isinstance(items, list):
            raise ActionError(f"items must be a list, got {type(items).__name__}")
        # Both bounds are limits, not step errors: the execution fails (kind "limit") and no
        # error port or on_error=continue can swallow a runaway loop.
        governor, own = ctx.engine.limits.max_loop_iterations, config.get("max_iterations", 1000)
        if len(items) > min(governor, own):
            name, limit = ("max_loop_iterations", governor) if governor <= own else ("max_iterations", own)
            raise LimitExceeded(name, limit, f"the loop {ctx.node_key!r} has {len(items)} items; at most {limit} iterations are allowed")
        results = []
        for index, item in enumerate(items):
            loop = {"item": item, "index": index, "first": index == 0, "last": index == len(items) - 1, "length": len(items)}
            loops = {**ctx.data.get("loops", {}), ctx.node_key: loop}
            body = _body_data(ctx.data, loop=loop, loops=loops)
            results.append(ctx.engine.run_body(ctx.node_key, "each", f"{ctx.scope}/{ctx.node_key}[{index}]", body))
        return {"count": len(items), "results": results}


@register
class SubCircuit(Action):
    name = "control.subcircuit"
    category = "control"
    label = "Sub-circuit"
    description = "Runs another published circuit of this tenant with an input and returns its output."
    schema = {
        "type": "object",
        "required": ["circuit"],
        "properties": {
            "circuit": {"type": "string", "minLength": 1, "title": "Circuit (slug)"},
            "input": {"title": "Input", "description": "The payload the sub-circuit sees as its trigger."},
            "wait": {"type": "boolean", "default": True, "title": "Wait for it to finish"},
        },
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "properties": {"execution_id": {"type": "integer"}, "status": {"type": "string"}, "output": {}}}

    def run(self, ctx: Context, config: dict) -> Any:
        from circuits.engine.start import NotRunnable, create_execution, enqueue, run_now
        from circuits.idempotency import apply_once
        from circuits.models import Circuit, Execution, ExecutionStatus

        circuit = Circuit.objects.for_tenant(ctx.tenant).filter(slug=config["circuit"]).first()
        if circuit is None:
            raise ActionError(f"no circuit {config['circuit']!r} in this tenant")
        depth, parent = 0, ctx.execution
        while parent is not None and parent.parent_id:
            depth += 1
            parent = parent.parent
        if depth + 1 > ctx.engine.limits.max_subcircuit_depth:
            limit = ctx.engine.limits.max_subcircuit_depth
            raise LimitExceeded("max_subcircuit_depth", limit, f"sub-circuits nest deeper than {limit} levels")
        if ctx.execution is not None and circuit.pk == ctx.execution.circuit_id:
            raise ActionError("a circuit cannot call itself")
        try:
            # Once per step: the step re-run after its worker died finds the child it started.
            child, _started = apply_once(
                ctx.tenant,
                ctx.idempotency_key,
                "subcircuit",
                lambda: create_execution(circuit, config.get("input") or {}, trigger_type="subcircuit", parent=ctx.execution),
                lambda child: (child.pk, {}),
                lambda applied: Execution.objects.for_tenant(ctx.tenant).get(pk=applied.record_key),
            )
        except NotRunnable as exc:
            raise ActionError(str(exc)) from None
        if not config.get("wait", True):
            if not child.is_finished:
                enqueue(child)  # a worker that already holds it skips the repeat (claim)
            return {"execution_id": child.pk, "status": child.status, "output": None}
        child = run_now(child)
        until = time.monotonic() + ctx.time_left()
        while not child.is_finished:
            # A child started before a crash may be running in another worker: wait for it.
            if time.monotonic() >= until:
                raise ActionError(f"sub-circuit {circuit.slug!r} did not finish before this step's deadline")
            time.sleep(0.2)
            child.refresh_from_db()
        if child.status != ExecutionStatus.SUCCEEDED:
            message = (child.error or {}).get("message", child.status)
            raise ActionError(f"sub-circuit {circuit.slug!r} {child.status}: {message}")
        return {"execution_id": child.pk, "status": child.status, "output": child.output}


@register
class StopAction(Action):
    name = "control.stop"
    category = "control"
    label = "Stop"
    description = "Ends the execution here, as succeeded (with an output) or failed (with a message)."
    side_effects = False
    schema = {
        "type": "object",
        "properties": {
            "status": {"enum": ["succeeded", "failed"], "default": "succeeded", "title": "End as"},
            "output": {"title": "Output", "description": "The execution's result (e.g. what a webhook answers)."},
            "message": {"type": "string", "title": "Message"},
        },
        "additionalProperties": False,
    }
    output_schema = {"description": "The output given."}

    def run(self, ctx: Context, config: dict) -> Stop:
        return Stop(status=config.get("status", "succeeded"), output=config.get("output"), message=config.get("message", ""))
