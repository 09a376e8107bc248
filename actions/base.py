"""What an action is, and what it gets when it runs.

An action is a small class: a name ("family.verb"), a category, a label, a description,
a JSON Schema for its config (validated on save; the builder renders forms from it), the
shape of its output, its output ports, and `run(ctx, config)`. Config values may hold
templates (`{{ trigger.email }}`); the engine renders them before `run` sees them.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from jsonschema.validators import Draft202012Validator

if TYPE_CHECKING:
    from circuits.models import Execution, Tenant


class ActionError(Exception):
    """A failure the user can act on (bad response, rejected address, …): shown as is."""


class ConfigError(ActionError):
    """The node's configuration is invalid."""


@dataclass
class Result:
    """What `run` returns when it needs more than an output: the port to follow."""

    output: Any = None
    port: str = "next"


@dataclass
class Park:
    """Pause the execution until `until` (a datetime) without holding a worker."""

    until: Any
    output: Any = None


@dataclass
class Stop:
    """End the execution now with `status` ("succeeded" or "failed") and `output`."""

    status: str = "succeeded"
    output: Any = None
    message: str = ""


@dataclass
class Context:
    """Everything an action may touch. Actions never reach outside the tenant through it."""

    tenant: Tenant
    execution: Execution | None
    node_key: str
    data: dict  # the template context: trigger, steps, vars, tenant, execution
    deadline: float | None = None  # time.monotonic() value; long calls must respect it
    logs: list = field(default_factory=list)
    engine: Any = None  # the running engine (control actions: bodies, sub-circuits)
    scope: str = ""  # which loop iteration / parallel branch this step runs in
    # The same for this step and for its re-run after the worker running it died; a new one
    # for each retry. Side-effecting actions pass it on (an Idempotency-Key header, the
    # record service, a Message-ID) so the far side can refuse a second apply.
    idempotency_key: str | None = None

    def log(self, message: str, level: str = "info", **extra: Any) -> None:
        entry = {"level": level, "message": str(message)[:2000], **extra}
        self.logs.append(entry)
        if self.engine is not None:
            self.engine.on_log(self, entry)

    def time_left(self, default: float = 30.0) -> float:
        if self.deadline is None:
            return default
        return max(0.0, min(default, self.deadline - time.monotonic()))

    def credential(self, name: str, kind: str | tuple[str, ...] | None = None) -> dict:
        """The decrypted secret of the tenant's credential `name` (a dict)."""
        from circuits.credentials import read_credential

        return read_credential(self.tenant, name, kind)

    def set_var(self, name: str, value: Any) -> None:
        self.data.setdefault("vars", {})[name] = value


class Action(ABC):
    name: ClassVar[str] = ""
    category: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    schema: ClassVar[dict] = {"type": "object", "properties": {}, "additionalProperties": False}
    output_schema: ClassVar[dict] = {}
    ports: ClassVar[tuple[str, ...]] = ("next",)
    # Pure actions (no effect outside the execution) may be recomputed on resume.
    side_effects: ClassVar[bool] = True
    # What happens to a step that was in flight when its worker died: an idempotent action
    # (running it twice is as good as once: a wait, a fetch) simply runs again as the next
    # attempt; any other runs again as the SAME attempt, so with the same ctx.idempotency_key,
    # which it must hand to whatever it changes so that the repeat is not applied twice.
    idempotent: ClassVar[bool] = False
    # Config keys the engine must not render before run (the action renders them itself).
    raw_fields: ClassVar[tuple[str, ...]] = ()
    # Containers (loop, parallel) run bodies of nodes through ctx.engine.run_body().
    container: ClassVar[bool] = False

    @classmethod
    def validate_config(cls, config: dict, *, rendered: bool = False) -> list[str]:
        """Errors in `config` as readable strings naming the field ("url: is required").

        At save time (`rendered=False`) a value that is still a template (`{{ … }}`) cannot be
        type-checked yet, so errors about it are left to the run, where the engine validates
        the rendered config again before the action sees it.
        """
        from circuits.engine.expressions import is_template

        validator = cls.__dict__.get("_validator")
        if validator is None:
            validator = Draft202012Validator(cls.schema)
            cls._validator = validator
        errors = []
        for error in sorted(validator.iter_errors(config), key=lambda e: list(e.path)):
            if not rendered and is_template(error.instance):
                continue
            where = ".".join(str(p) for p in error.path) or "config"
            errors.append(f"{where}: {error.message}")
        return errors + cls.check_config(config)

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        """Extra checks a schema cannot express. Returns error strings."""
        return []

    @classmethod
    def replay(cls, data: dict, output: Any) -> None:
        """Re-apply a finished step's effect on the context (e.g. variables) when resuming."""
        return None

    @classmethod
    def dynamic_ports(cls, config: dict) -> tuple[str, ...]:
        """The ports of a node with this config (switch cases, parallel branches)."""
        return cls.ports

    @abstractmethod
    def run(self, ctx: Context, config: dict) -> Any:
        """Do the work; return the output, or a Result / Park / Stop."""

    @classmethod
    def describe(cls) -> dict:
        return {
            "name": cls.name,
            "category": cls.category,
            "label": cls.label,
            "description": cls.description,
            "schema": cls.schema,
            "output_schema": cls.output_schema,
            "ports": list(cls.ports),
            "side_effects": cls.side_effects,
            "container": cls.container,
        }
