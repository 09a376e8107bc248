"""Parallel branches, for-each loops, sub-circuits and Stop."""

from __future__ import annotations

from typing import Any

from actions.sdk import Action, ActionError, Body, Context, LimitExceeded, Stop, register


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
        branches = config["branches"]
        if len(branches) > ctx.limits.max_parallel_branches:
            # A governor limit fails the execution: it is never routed to an error port.
            limit = ctx.limits.max_parallel_branches
            raise LimitExceeded("max_parallel_branches", limit, f"{len(branches)} parallel branches in {ctx.node_key!r}")
        bodies = [Body(branch, f"{ctx.scope}/{ctx.node_key}.{branch}", _body_data(ctx.data)) for branch in branches]
        return dict(zip(branches, ctx.run_bodies(bodies), strict=True))


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
        governor, own = ctx.limits.max_loop_iterations, config.get("max_iterations", 1000)
        if len(items) > min(governor, own):
            name, limit = ("max_loop_iterations", governor) if governor <= own else ("max_iterations", own)
            raise LimitExceeded(name, limit, f"the loop {ctx.node_key!r} has {len(items)} items; at most {limit} iterations are allowed")
        results = []
        for index, item in enumerate(items):
            loop = {"item": item, "index": index, "first": index == 0, "last": index == len(items) - 1, "length": len(items)}
            loops = {**ctx.data.get("loops", {}), ctx.node_key: loop}
            body = _body_data(ctx.data, loop=loop, loops=loops)
            results.append(ctx.run_body(Body("each", f"{ctx.scope}/{ctx.node_key}[{index}]", body)))
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
        # The engine finds the circuit, applies the nesting limit and starts the child once per step.
        run = ctx.start_circuit(config["circuit"], config.get("input") or {}, wait=config.get("wait", True))
        return {"execution_id": run.execution_id, "status": run.status, "output": run.output}


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
