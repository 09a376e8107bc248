"""Conditional (if/else) and Switch: pick the port to follow."""

from __future__ import annotations

import re
from typing import Any

from actions.sdk import Action, ActionError, Context, Result, register

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "not_contains", "starts_with", "ends_with", "matches", "is_empty", "is_not_empty", "in")

RULE = {
    "type": "object",
    "required": ["left", "op"],
    "properties": {
        "left": {"title": "Value", "description": "Usually an expression such as {{ trigger.score }}"},
        "op": {"enum": list(OPERATORS), "title": "Operator"},
        "right": {"title": "Compare with"},
    },
    "additionalProperties": False,
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def compare(left: Any, op: str, right: Any) -> bool:
    if op in ("gt", "gte", "lt", "lte"):
        if left is None or right is None:
            return False  # a missing value (null) is neither larger nor smaller than anything
        a, b = _number(left), _number(right)
        if a is None or b is None:
            a, b = str(left), str(right)
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    if op == "eq":
        a, b = _number(left), _number(right)
        return a == b if a is not None and b is not None else left == right
    if op == "ne":
        return not compare(left, "eq", right)
    if op == "contains":
        return right in left if isinstance(left, list | dict) else str(right) in str(left)
    if op == "not_contains":
        return not compare(left, "contains", right)
    if op == "starts_with":
        return str(left).startswith(str(right))
    if op == "ends_with":
        return str(left).endswith(str(right))
    if op == "matches":
        try:
            return re.search(str(right), str(left)) is not None
        except re.error as exc:
            raise ActionError(f"invalid regular expression {right!r}: {exc}") from None
    if op == "is_empty":
        return left in (None, "", [], {})
    if op == "is_not_empty":
        return left not in (None, "", [], {})
    if op == "in":
        return left in (right or [])
    raise ActionError(f"unknown operator {op!r}")


@register
class Conditional(Action):
    name = "control.if"
    category = "control"
    label = "Conditional (if / else)"
    description = "Follows the 'true' or the 'false' port, from an expression or from rules."
    side_effects = False
    ports = ("true", "false")
    schema = {
        "type": "object",
        "properties": {
            "condition": {"title": "Condition", "description": "An expression, e.g. {{ steps.score.output.score >= 80 }}"},
            "rules": {"type": "array", "items": RULE, "title": "Rules", "description": "Used when no condition is given."},
            "combine": {"enum": ["all", "any"], "default": "all", "title": "Combine rules with"},
        },
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "properties": {"result": {"type": "boolean"}}}

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        if "condition" not in config and not config.get("rules"):
            return ["condition: give a condition or at least one rule"]
        return []

    def run(self, ctx: Context, config: dict) -> Result:
        if "condition" in config:
            value = config["condition"]
            result = value.strip().lower() not in ("", "false", "0", "no", "none") if isinstance(value, str) else bool(value)
        else:
            checks = [compare(r.get("left"), r["op"], r.get("right")) for r in config["rules"]]
            result = all(checks) if config.get("combine", "all") == "all" else any(checks)
        return Result({"result": result}, "true" if result else "false")


@register
class Switch(Action):
    name = "control.switch"
    category = "control"
    label = "Switch"
    description = "Follows the port of the first case whose value equals the input value, or 'default'."
    side_effects = False
    ports = ("default",)
    schema = {
        "type": "object",
        "required": ["value", "cases"],
        "properties": {
            "value": {"title": "Value", "description": "Expression to switch on, e.g. {{ trigger.plan }}"},
            "cases": {
                "type": "array",
                "minItems": 1,
                "title": "Cases",
                "items": {
                    "type": "object",
                    "required": ["port", "equals"],
                    "properties": {
                        "port": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,40}$", "title": "Port name"},
                        "equals": {"title": "Equals"},
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "properties": {"value": {}, "port": {"type": "string"}}}

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        ports = [c.get("port") for c in config.get("cases", []) if isinstance(c, dict)]
        errors = []
        if len(ports) != len(set(ports)):
            errors.append("cases: each case needs its own port name")
        if "default" in ports or "error" in ports:
            errors.append("cases: 'default' and 'error' are reserved port names")
        return errors

    @classmethod
    def dynamic_ports(cls, config: dict) -> tuple[str, ...]:
        return (*[c["port"] for c in config.get("cases", []) if isinstance(c, dict) and "port" in c], "default")

    def run(self, ctx: Context, config: dict) -> Result:
        value = config["value"]
        for case in config["cases"]:
            if compare(value, "eq", case["equals"]):
                return Result({"value": value, "port": case["port"]}, case["port"])
        return Result({"value": value, "port": "default"}, "default")
