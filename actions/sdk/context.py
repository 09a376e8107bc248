"""The step context: the narrow facade through which an action reaches the platform.

The engine implements it (circuits/automation/engine/context.py); an action sees only this surface,
so it never touches engine internals:

- who and where: `tenant`, `execution` (rows the action hands on to services it calls;
  the SDK never looks inside them), `node_key`, `scope`, `data` (the template context);
- `idempotency_key` — the same for a step and its re-run after a lost worker, new per retry;
- `deadline` / `time_left()`, `limits` (the governor limits an action applies itself);
- `log()`, `set_var()`;
- the engine's services: `credential()`, `sleep()` (ends early on cancel or a lost lease),
  `run_body()` / `run_bodies()` for containers, `start_circuit()` for sub-circuits.

Whatever the engine raises through these calls is an `Interrupt` (actions/sdk/interrupts.py).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StepLimits:
    """The tenant's governor limits that actions apply themselves (the engine enforces the rest)."""

    max_loop_iterations: int = 1000
    max_parallel_branches: int = 10
    max_subcircuit_depth: int = 5
    # Waits up to this long sleep in the worker (`ctx.sleep`); longer ones return `Park`.
    inline_wait_seconds: float = 5.0


@dataclass(frozen=True)
class Body:
    """One body of a container: the nodes on `port` of this node, run in `scope`, seeing `data`."""

    port: str
    scope: str
    data: dict


@dataclass(frozen=True)
class CircuitRun:
    """A sub-circuit's execution as `start_circuit` found it (finished when it waited)."""

    execution_id: int
    status: str
    output: Any = None


@dataclass(eq=False)
class Context(ABC):
    """Everything an action may touch. Actions never reach outside the tenant through it."""

    tenant: Any
    execution: Any | None
    node_key: str
    data: dict  # the template context: trigger, steps, vars, tenant, execution
    deadline: float | None = None  # time.monotonic() value; long calls must respect it
    scope: str = ""  # which loop iteration / parallel branch this step runs in
    # The same for this step and for its re-run after the worker running it died; a new one
    # for each retry. Side-effecting actions pass it on (an Idempotency-Key header, the
    # record service, a Message-ID) so the far side can refuse a second apply.
    idempotency_key: str | None = None
    limits: StepLimits = field(default_factory=StepLimits)
    logs: list[dict] = field(default_factory=list)

    def log(self, message: str, level: str = "info", **extra: Any) -> None:
        entry = {"level": level, "message": str(message)[:2000], **extra}
        self.logs.append(entry)
        self.emit_log(entry)

    def emit_log(self, entry: dict) -> None:
        """Where a log line goes besides the step's own logs (the engine publishes it live)."""
        return None

    def time_left(self, default: float = 30.0) -> float:
        if self.deadline is None:
            return default
        return max(0.0, min(default, self.deadline - time.monotonic()))

    def set_var(self, name: str, value: Any) -> None:
        self.data.setdefault("vars", {})[name] = value

    # --- the engine's side --------------------------------------------------------

    @abstractmethod
    def credential(self, name: str, kind: str | tuple[str, ...] | None = None) -> dict:
        """The decrypted secret of the tenant's credential `name` (a dict); ActionError if it is missing or of another kind."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Wait in the worker; ends early (with an `Interrupt`) when the execution is cancelled or its runner lost."""

    @abstractmethod
    def run_body(self, body: Body) -> Any:
        """Run one body of this container node; returns the body's last output."""

    @abstractmethod
    def run_bodies(self, bodies: Sequence[Body]) -> list[Any]:
        """Run bodies at the same time and wait for all of them (the join); their last outputs, in order.

        When a body failed, its failure is raised once every body has finished; when bodies
        only parked, the earliest `Parked`.
        """

    @abstractmethod
    def start_circuit(self, slug: str, payload: Any, *, wait: bool = True) -> CircuitRun:
        """Start the tenant's published circuit `slug` with `payload` as its trigger, once per step.

        With `wait`, runs it to the end within this step's deadline and returns the succeeded
        run; a child that failed or did not finish in time is an ActionError.
        """
