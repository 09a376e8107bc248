"""The engine's side of the action SDK's `Context` (actions/sdk/context.py).

`StepContext` is what the runner hands a step's action: its services go through the
running engine (live logs, sleeps that end on cancel or a lost lease, bodies of
containers). `DirectContext` is the same facade for an action called outside a running
execution (tests, tools): the tenant's services work, bodies do not.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection

from actions.sdk import ActionError, Body, CircuitRun, Context, LimitExceeded, Parked, StepLimits
from circuits.automation.engine.limits import Limits
from circuits.automation.engine.subcircuits import start_circuit
from circuits.tenancy.credentials import read_credential

if TYPE_CHECKING:
    from circuits.automation.engine.runner import Engine


def step_limits(limits: Limits, inline_wait_seconds: float) -> StepLimits:
    """The part of the tenant's governor limits that actions apply themselves."""
    return StepLimits(
        max_loop_iterations=limits.max_loop_iterations,
        max_parallel_branches=limits.max_parallel_branches,
        max_subcircuit_depth=limits.max_subcircuit_depth,
        inline_wait_seconds=inline_wait_seconds,
    )


@dataclass(eq=False)
class DirectContext(Context):
    """A context bound to a tenant (and maybe an execution) but to no running engine."""

    def credential(self, name: str, kind: str | tuple[str, ...] | None = None) -> dict:
        return read_credential(self.tenant, name, kind)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def run_body(self, body: Body) -> Any:
        raise ActionError("a container's bodies run only inside a running execution")

    def run_bodies(self, bodies: Sequence[Body]) -> list[Any]:
        raise ActionError("a container's bodies run only inside a running execution")

    def start_circuit(self, slug: str, payload: Any, *, wait: bool = True) -> CircuitRun:
        raise ActionError("a sub-circuit starts only inside a running execution")


@dataclass(eq=False)
class StepContext(DirectContext):
    """The context of one step of a running execution."""

    engine: Engine = field(kw_only=True, repr=False)

    def emit_log(self, entry: dict) -> None:
        self.engine.on_log(self, entry)

    def sleep(self, seconds: float) -> None:
        self.engine._sleep(seconds)  # checks the cancel flag and the lease while it waits

    def run_body(self, body: Body) -> Any:
        return self.engine.run_body(self.node_key, body.port, body.scope, body.data)

    def start_circuit(self, slug: str, payload: Any, *, wait: bool = True) -> CircuitRun:
        # The engine runs a waited-for child inline; handed in, so this module needs no runner import.
        return start_circuit(self, slug, payload, wait=wait, run=self.engine.run_child)

    def run_bodies(self, bodies: Sequence[Body]) -> list[Any]:
        bodies = list(bodies)

        def run(body: Body) -> Any:
            try:
                return self.run_body(body)
            finally:
                connection.close()  # each body thread has its own DB connection

        with ThreadPoolExecutor(max_workers=max(1, len(bodies)), thread_name_prefix=f"par-{self.node_key}") as pool:
            # Each body gets a copy of this thread's context (the running execution: lineage).
            futures = [pool.submit(contextvars.copy_context().run, run, body) for body in bodies]
            outputs, failures = [], []
            for future in futures:
                try:
                    outputs.append(future.result())
                except BaseException as exc:  # collected so every body finishes first (the join)
                    failures.append(exc)
        if failures:
            others = [f for f in failures if not isinstance(f, Parked)]
            if others:
                # A governor limit in any body fails the execution as a limit, whatever else failed.
                raise next((f for f in others if isinstance(f, LimitExceeded)), others[0])
            raise min(failures, key=lambda parked: parked.until)
        return outputs
