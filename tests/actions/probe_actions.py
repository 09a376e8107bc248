"""Actions written the way a plugin author writes them: against `actions.sdk` and nothing else.

tests/actions/test_sdk.py registers them, runs them in real executions and checks that
this module imports only the SDK (and the standard library).
"""

from __future__ import annotations

from typing import Any

from actions.sdk import Action, ActionError, Body, Context, register

_TEXT = {"type": "string", "title": "Text"}


@register
class ProbeCredential(Action):
    name = "util.probe_credential"
    category = "util"
    label = "Probe: read a credential"
    description = "Returns the user name of an HTTP basic credential (never its password)."
    schema = {"type": "object", "required": ["credential"], "properties": {"credential": _TEXT}, "additionalProperties": False}

    def run(self, ctx: Context, config: dict) -> Any:
        secret = ctx.credential(config["credential"], "http_basic")
        ctx.log(f"read credential {config['credential']!r}")
        return {"username": secret["username"], "has_password": bool(secret.get("password"))}


@register
class ProbeTwice(Action):
    name = "control.probe_twice"
    category = "control"
    label = "Probe: run a body twice"
    description = "Runs its 'each' body twice, in order, then both again at the same time; continues on 'done'."
    container = True
    side_effects = False
    idempotent = True
    ports = ("each", "done")

    def run(self, ctx: Context, config: dict) -> Any:
        def body(label: str) -> Body:
            return Body("each", f"{ctx.scope}/{ctx.node_key}.{label}", {**ctx.data, "probe": label})

        in_turn = [ctx.run_body(body("one")), ctx.run_body(body("two"))]
        together = ctx.run_bodies([body("three"), body("four")])
        return {"in_turn": in_turn, "together": together}


@register
class ProbeCall(Action):
    name = "control.probe_call"
    category = "control"
    label = "Probe: call a circuit"
    description = "Starts another circuit of the tenant with a payload and returns what it answered."
    schema = {
        "type": "object",
        "required": ["circuit"],
        "properties": {"circuit": _TEXT, "wait": {"type": "boolean", "title": "Wait"}},
        "additionalProperties": False,
    }

    def run(self, ctx: Context, config: dict) -> Any:
        run = ctx.start_circuit(config["circuit"], {"asked_by": ctx.node_key}, wait=config.get("wait", True))
        if run.status not in ("succeeded", "queued"):
            raise ActionError(f"unexpected status {run.status}")
        return {"execution_id": run.execution_id, "status": run.status, "output": run.output}


@register
class ProbeSleep(Action):
    name = "util.probe_sleep"
    category = "util"
    label = "Probe: sleep"
    description = "Sleeps in the worker for the given seconds, whatever the inline-wait limit."
    idempotent = True
    schema = {"type": "object", "required": ["seconds"], "properties": {"seconds": {"type": "number", "title": "Seconds"}}, "additionalProperties": False}

    def run(self, ctx: Context, config: dict) -> Any:
        ctx.sleep(config["seconds"])
        return {"slept": config["seconds"], "inline_wait_seconds": ctx.limits.inline_wait_seconds}


PROBES: tuple[type[Action], ...] = (ProbeCredential, ProbeTwice, ProbeCall, ProbeSleep)
