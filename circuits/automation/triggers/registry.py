"""The closed registry of trigger kinds, filled by the `@register` decorator.

Every module of `circuits.automation.triggers.kinds` defines kinds; `load()` imports them all, so a
new kind is one new module there (its type string, schema, key, checks and how it fires).
Registration validates the class — a type string that fits Trigger.type, label and
description, a config schema that is itself a valid JSON Schema of a closed object, a key
field the schema requires — so a broken kind fails at start-up, not on a customer's save.
The database keeps what it always did: Trigger.type (the kind's `type`) + Trigger.config.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from django.core.exceptions import ValidationError
from jsonschema.validators import Draft202012Validator

from circuits.automation.engine.expressions import check_value
from circuits.automation.models.trigger import Trigger
from circuits.automation.triggers import kinds as kinds_package
from circuits.automation.triggers.base import TriggerKind, as_expression
from circuits.tenancy.models.tenants import Tenant

_TYPE = re.compile(r"^[a-z][a-z0-9_]*$")
_TYPE_MAX = Trigger._meta.get_field("type").max_length

_registry: dict[str, type[TriggerKind]] = {}
_loaded = False


class RegistryError(Exception):
    pass


def register(cls: type[TriggerKind]) -> type[TriggerKind]:
    type_ = getattr(cls, "type", "")
    if not (isinstance(type_, str) and _TYPE.match(type_) and len(type_) <= _TYPE_MAX):
        raise RegistryError(f"{cls.__name__}: type {type_!r} must be lower_snake_case of at most {_TYPE_MAX} characters")
    if type_ in _registry and _registry[type_] is not cls:
        raise RegistryError(f"trigger type {type_!r} is registered twice ({_registry[type_].__name__} and {cls.__name__})")
    if not cls.label or not cls.description:
        raise RegistryError(f"{type_}: label and description are required")
    Draft202012Validator.check_schema(cls.schema)
    if cls.schema.get("type") != "object" or cls.schema.get("additionalProperties") is not False:
        raise RegistryError(f"{type_}: the config schema must describe a closed object (additionalProperties: false)")
    if cls.key_field is not None and cls.key_field not in cls.schema.get("required", []):
        raise RegistryError(f"{type_}: the key field {cls.key_field!r} must be a required config property")
    _registry[type_] = cls
    return cls


def load() -> None:
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(kinds_package.__path__):
            importlib.import_module(f"{kinds_package.__name__}.{module.name}")
        _loaded = True


def get(type_: str) -> type[TriggerKind] | None:
    load()
    return _registry.get(type_)


def all_kinds() -> list[type[TriggerKind]]:
    load()
    return sorted(_registry.values(), key=lambda k: (k.order, k.type))


def types() -> list[str]:
    return [k.type for k in all_kinds()]


def choices() -> list[tuple[str, str]]:
    return [(k.type, k.label) for k in all_kinds()]


def label(type_: str) -> str:
    kind = get(type_)
    return kind.label if kind is not None else type_


def unknown_type_message(type_: str) -> str:
    return f"unknown trigger type {type_!r}; choose one of {', '.join(types())}"


def validate_trigger(type_: str, config: dict, tenant: Tenant | None = None) -> list[str]:
    """Every problem of (type, config), as "type: …" / "config.<path>: …" strings; with
    `tenant`, also what only its data can tell (an event name outside its catalogue)."""
    kind = get(type_)
    if kind is None:
        return [f"type: {unknown_type_message(type_)}"]
    if not isinstance(config, dict):
        return ["config: must be an object"]
    errors = [
        f"config.{'.'.join(str(p) for p in e.path) or ''}: {e.message}".replace("config.:", "config:")
        for e in Draft202012Validator(kind.schema).iter_errors(config)
    ]
    if errors:
        return errors
    if config.get("condition"):
        errors += check_value(as_expression(config["condition"]), "config.condition")
    errors += kind.check(config)
    if not errors and tenant is not None:
        errors += kind.check_in_tenant(tenant, config)
    return errors


def prepare(trigger: Trigger) -> None:
    """Validate and derive the key and the kind's own fields. Raises ValidationError."""
    errors = validate_trigger(trigger.type, trigger.config or {}, trigger.tenant)
    if errors:
        raise ValidationError({"config": errors})
    kind = get(trigger.type)
    trigger.key = kind.key(trigger.config)
    kind.prepare(trigger)
