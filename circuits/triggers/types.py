"""Trigger types: the JSON Schema of each type's config and how its lookup key is derived."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.core.exceptions import ValidationError
from django.utils import timezone
from jsonschema.validators import Draft202012Validator

from circuits.engine.expressions import check_value
from circuits.models import Trigger, TriggerType

_OBJECT = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$", "title": "Object type"}
_CONDITION = {"type": "string", "title": "Condition", "description": "Expression; the trigger fires only when it is true."}

SCHEMAS: dict[str, dict] = {
    TriggerType.MANUAL: {"type": "object", "properties": {"sample_payload": {"type": "object"}}, "additionalProperties": False},
    TriggerType.API: {"type": "object", "properties": {"sample_payload": {"type": "object"}}, "additionalProperties": False},
    TriggerType.EVENT: {
        "type": "object",
        "required": ["event"],
        "properties": {"event": {"type": "string", "minLength": 1, "maxLength": 200, "title": "Event name"}, "condition": _CONDITION},
        "additionalProperties": False,
    },
    TriggerType.RECORD_CHANGE: {
        "type": "object",
        "required": ["object_type", "on"],
        "properties": {
            "object_type": _OBJECT,
            "on": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": ["created", "updated", "deleted"]}, "title": "On"},
            "fields": {"type": "array", "items": {"type": "string"}, "title": "Only when one of these fields changed"},
            "condition": _CONDITION,
        },
        "additionalProperties": False,
    },
    TriggerType.BEFORE_SAVE: {
        "type": "object",
        "required": ["object_type"],
        "properties": {
            "object_type": _OBJECT,
            "on": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": ["created", "updated"]}, "default": ["created", "updated"]},
            "budget_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 30, "default": 5, "title": "Time budget (s)"},
        },
        "additionalProperties": False,
    },
    TriggerType.SCHEDULE: {
        "type": "object",
        "required": ["cron"],
        "properties": {
            "cron": {"type": "string", "title": "Cron expression", "description": "e.g. '0 9 * * 1-5' (09:00 on weekdays)"},
            "timezone": {"type": "string", "default": "UTC", "title": "Time zone"},
            "payload": {"type": "object", "title": "Payload"},
        },
        "additionalProperties": False,
    },
    TriggerType.WEBHOOK: {
        "type": "object",
        "properties": {
            "auth": {
                "enum": ["token", "hmac"],
                "default": "token",
                "title": "Authentication",
                "description": (
                    "token: the URL is the secret. hmac: each delivery must also send X-Circuit-Timestamp (Unix seconds) and "
                    'X-Circuit-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>"> made with the secret below; '
                    "a signature is accepted within 5 minutes of its timestamp (the site may set another window), and only once."
                ),
            },
            "secret_credential": {"type": "string", "title": "HMAC secret credential", "description": "A webhook_secret credential of this tenant."},
            "respond": {"enum": ["immediately", "wait"], "default": "immediately", "title": "Respond"},
            "wait_timeout_seconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 60,
                "default": 10,
                "title": "Wait for the output (s)",
                "description": "With respond: wait, how long the sender waits; a run still going then answers 202 and finishes in a worker.",
            },
            "max_bytes": {"type": "integer", "minimum": 1, "maximum": 10_000_000, "default": 1_000_000},
        },
        "additionalProperties": False,
    },
    TriggerType.THRESHOLD: {
        "type": "object",
        "required": ["object_type", "field", "value"],
        "properties": {
            "object_type": _OBJECT,
            "field": {"type": "string", "minLength": 1, "title": "Numeric field"},
            "value": {"type": "number", "title": "Threshold"},
            "direction": {"enum": ["above", "below"], "default": "above", "title": "Fires when the value crosses"},
        },
        "additionalProperties": False,
    },
    TriggerType.CIRCUIT_COMPLETED: {
        "type": "object",
        "required": ["circuit"],
        "properties": {
            "circuit": {"type": "string", "minLength": 1, "title": "Circuit (slug)"},
            "on": {"enum": ["succeeded", "failed", "any"], "default": "succeeded", "title": "When it"},
        },
        "additionalProperties": False,
    },
}


def validate_trigger(type_: str, config: dict) -> list[str]:
    schema = SCHEMAS.get(type_)
    if schema is None:
        return [f"type: unknown trigger type {type_!r}; choose one of {', '.join(TriggerType.values)}"]
    if not isinstance(config, dict):
        return ["config: must be an object"]
    errors = [
        f"config.{'.'.join(str(p) for p in e.path) or ''}: {e.message}".replace("config.:", "config:") for e in Draft202012Validator(schema).iter_errors(config)
    ]
    if errors:
        return errors
    if config.get("condition"):
        expression = config["condition"]
        if "{{" not in expression:
            expression = "{{ " + expression + " }}"
        errors += check_value(expression, "config.condition")
    if type_ == TriggerType.SCHEDULE:
        if not croniter.is_valid(config["cron"]):
            errors.append(f"config.cron: {config['cron']!r} is not a valid cron expression")
        try:
            ZoneInfo(config.get("timezone", "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(f"config.timezone: unknown time zone {config.get('timezone')!r}")
    if type_ == TriggerType.WEBHOOK and config.get("auth") == "hmac" and not config.get("secret_credential"):
        errors.append("config.secret_credential: HMAC authentication needs a webhook_secret credential")
    return errors


def key_for(type_: str, config: dict) -> str:
    """The indexed lookup key: matching a trigger is (tenant, type, key), never a scan."""
    if type_ == TriggerType.EVENT:
        return config["event"]
    if type_ in (TriggerType.RECORD_CHANGE, TriggerType.BEFORE_SAVE, TriggerType.THRESHOLD):
        return config["object_type"]
    if type_ == TriggerType.CIRCUIT_COMPLETED:
        return config["circuit"]
    return ""


def next_cron_time(config: dict, after: datetime | None = None) -> datetime:
    tz = ZoneInfo(config.get("timezone", "UTC"))
    base = (after or timezone.now()).astimezone(tz)
    return croniter(config["cron"], base).get_next(datetime).astimezone(ZoneInfo("UTC"))


def prepare(trigger: Trigger) -> None:
    """Validate and derive key / webhook token / next run. Raises ValidationError."""
    errors = validate_trigger(trigger.type, trigger.config or {})
    if errors:
        raise ValidationError({"config": errors})
    trigger.key = key_for(trigger.type, trigger.config)
    trigger.ensure_webhook_token()
    if trigger.type == TriggerType.SCHEDULE:
        trigger.next_run_at = next_cron_time(trigger.config)
