"""Running one family's steps directly in a test, as the engine would but without an execution:
shared by the step tests of the graph, ML and RAG families (actions/<family>/tests/test_steps.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actions.sdk import registry
from circuits.automation.engine.context import DirectContext


def family(category: str) -> tuple[Callable[[str], type], Callable[[Any, str, dict], Any]]:
    """(step, run) for the steps of `category`: `step(name)` is the registered class, asserted to be
    of that family; `run(tenant, name, config)` validates the config, asserting it is valid, and runs
    the step in the tenant with empty trigger, steps and vars."""

    def step(name: str) -> type:
        cls = registry.get(name)
        assert cls is not None and cls.category == category, name
        return cls

    def run(tenant, name: str, config: dict) -> Any:
        cls = step(name)
        assert cls.validate_config(config) == [], cls.validate_config(config)
        return cls().run(DirectContext(tenant=tenant, execution=None, node_key="n1", data={"trigger": {}, "steps": {}, "vars": {}}), config)

    return step, run
