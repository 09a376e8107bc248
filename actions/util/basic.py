"""Log, Wait, Set Variable, Transform."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from actions.sdk import Action, ActionError, Context, Park, register


@register
class Log(Action):
    name = "util.log"
    category = "util"
    label = "Log"
    description = "Writes a line to the execution log (shown live in the builder and on the execution page)."
    side_effects = False
    schema = {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string", "title": "Message", "description": "Templates allowed: {{ trigger.email }}"},
            "level": {"enum": ["debug", "info", "warning", "error"], "default": "info", "title": "Level"},
        },
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "properties": {"message": {"type": "string"}, "level": {"type": "string"}}}

    def run(self, ctx: Context, config: dict) -> Any:
        level = config.get("level", "info")
        ctx.log(config["message"], level)
        return {"message": config["message"], "level": level}


@register
class Wait(Action):
    name = "util.wait"
    idempotent = True  # waiting again is harmless
    category = "util"
    label = "Wait"
    description = "Pauses for a duration or until a time. Long waits park the execution and free the worker."
    schema = {
        "type": "object",
        "properties": {
            "seconds": {"type": "number", "minimum": 0, "maximum": 31_536_000, "title": "Seconds"},
            "until": {"type": "string", "title": "Until", "description": "An ISO 8601 date-time, e.g. {{ trigger.meeting_at }}"},
        },
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "properties": {"waited_until": {"type": "string"}}}

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        if ("seconds" in config) == ("until" in config):
            return ["seconds: give either seconds or until (not both)"]
        return []

    def run(self, ctx: Context, config: dict) -> Any:
        if "until" in config:
            until = config["until"] if isinstance(config["until"], datetime) else parse_datetime(str(config["until"]))
            if until is None:
                raise ActionError(f"until: {config['until']!r} is not an ISO 8601 date-time")
            if timezone.is_naive(until):
                until = timezone.make_aware(until, timezone.UTC)
        else:
            seconds = config["seconds"]
            if not isinstance(seconds, int | float):
                raise ActionError(f"seconds must be a number, got {seconds!r}")
            until = timezone.now() + timedelta(seconds=float(seconds))
        delay = (until - timezone.now()).total_seconds()
        output = {"waited_until": until.isoformat()}
        if delay > ctx.limits.inline_wait_seconds:
            return Park(until=until, output=output)
        if delay > 0:
            ctx.sleep(delay)
        return output


@register
class SetVariable(Action):
    name = "util.set_variable"
    category = "util"
    label = "Set Variable"
    description = "Sets variables that later steps read as {{ vars.name }}."
    side_effects = False
    schema = {
        "type": "object",
        "required": ["variables"],
        "properties": {
            "variables": {
                "type": "object",
                "minProperties": 1,
                "title": "Variables",
                "description": "Name → value; values may be expressions and keep their type.",
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"},
            }
        },
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "description": "The variables that were set."}

    def run(self, ctx: Context, config: dict) -> Any:
        for name, value in config["variables"].items():
            ctx.set_var(name, value)
        return dict(config["variables"])

    @classmethod
    def replay(cls, data: dict, output: Any) -> None:
        data.setdefault("vars", {}).update(output or {})


@register
class Transform(Action):
    name = "util.transform"
    category = "util"
    label = "Transform"
    description = "Builds a new JSON value from a template (objects, lists and expressions keep their types)."
    side_effects = False
    schema = {
        "type": "object",
        "required": ["template"],
        "properties": {"template": {"title": "Template", "description": 'e.g. {"name": "{{ trigger.first }} {{ trigger.last }}"}'}},
        "additionalProperties": False,
    }
    output_schema = {"description": "The rendered template."}

    def run(self, ctx: Context, config: dict) -> Any:
        return config["template"]
