"""What an action is.

An action is a small class: a name ("family.verb"), a category, a label, a description,
a JSON Schema for its config (validated on save; the builder renders forms from it), the
shape of its output, its output ports, and `run(ctx, config)`. Config values may hold
templates (`{{ trigger.email }}`); the engine renders them before `run` sees them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from jsonschema.validators import Draft202012Validator

from actions.sdk.context import Context
from actions.sdk.templates import is_template


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
    # Containers (loop, parallel) run bodies of nodes through ctx.run_body() / ctx.run_bodies().
    container: ClassVar[bool] = False

    @classmethod
    def validate_config(cls, config: dict, *, rendered: bool = False) -> list[str]:
        """Errors in `config` as readable strings naming the field ("url: is required").

        At save time (`rendered=False`) a value that is still a template (`{{ … }}`) cannot be
        type-checked yet, so errors about it are left to the run, where the engine validates
        the rendered config again before the action sees it.
        """
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
