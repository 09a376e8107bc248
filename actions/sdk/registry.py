"""The closed registry of actions, filled by the `@register` decorator.

Registration validates the class (name, category, a JSON Schema that is itself valid,
ports), so a broken action fails at import time, not in a customer's execution. The
registry knows no family: the actions app imports the families when Django is ready
(actions/apps.py), and the engine only looks names up here.
"""

from __future__ import annotations

import re

from jsonschema.validators import Draft202012Validator

from actions.sdk.action import Action

CATEGORIES = ("data", "web", "control", "notify", "util", "ml", "rag", "graph")
_NAME = re.compile(r"^[a-z]+\.[a-z][a-z0-9_]*$")

_registry: dict[str, type[Action]] = {}


class RegistryError(Exception):
    pass


def register(cls: type[Action]) -> type[Action]:
    name = getattr(cls, "name", "")
    if not _NAME.match(name or ""):
        raise RegistryError(f"{cls.__name__}: name {name!r} must look like 'family.action_name'")
    if name in _registry and _registry[name] is not cls:
        raise RegistryError(f"action {name!r} is registered twice ({_registry[name].__name__} and {cls.__name__})")
    if cls.category not in CATEGORIES:
        raise RegistryError(f"{name}: category {cls.category!r} is not one of {CATEGORIES}")
    if not name.startswith(cls.category + "."):
        raise RegistryError(f"{name}: the name must start with its category {cls.category!r}")
    if not cls.label or not cls.description:
        raise RegistryError(f"{name}: label and description are required")
    Draft202012Validator.check_schema(cls.schema)
    if cls.schema.get("type") != "object":
        raise RegistryError(f"{name}: the config schema must describe an object")
    if not cls.ports:
        raise RegistryError(f"{name}: an action needs at least one output port")
    _registry[name] = cls
    return cls


def unregister(name: str) -> None:
    """Forget action `name` (an action a test registered for itself)."""
    _registry.pop(name, None)


def get(name: str) -> type[Action] | None:
    return _registry.get(name)


def all_actions() -> list[type[Action]]:
    return sorted(_registry.values(), key=lambda a: (CATEGORIES.index(a.category), a.name))
