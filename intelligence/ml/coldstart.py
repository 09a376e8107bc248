"""The cold-start score: transparent rules the tenant edits, used until a definition has enough
labelled outcomes for a trained model (min_labels, min_positives). Every output says cold_start.

rules = {"base": 0.2, "rules": [{"field": "title", "op": "contains", "value": "vp", "weight": 0.2}, …]}
The score is base + the weights of the rules that hold, clipped to [0, 1].
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError

OPS = ("equals", "not_equals", "contains", "in", "gt", "gte", "lt", "lte", "is_set", "is_empty")

LEAD_RULES = {
    "base": 0.2,
    "rules": [
        {"field": "title", "op": "contains", "value": "vp", "weight": 0.15},
        {"field": "title", "op": "contains", "value": "director", "weight": 0.1},
        {"field": "title", "op": "contains", "value": "head", "weight": 0.1},
        {"field": "source", "op": "in", "value": ["referral", "partner"], "weight": 0.2},
        {"field": "company", "op": "is_set", "weight": 0.05},
        {"field": "phone", "op": "is_set", "weight": 0.05},
    ],
}
CHURN_RULES = {"base": 0.2, "rules": []}
DEFAULT_RULES = {"base": 0.5, "rules": []}


def default_rules(kind: str) -> dict:
    return {"lead_score": LEAD_RULES, "churn": CHURN_RULES}.get(kind, DEFAULT_RULES)


RULE_KEYS = {"field", "op", "value", "weight"}
MAX_VALUE_LENGTH = 200
MAX_IN_VALUES = 100


def _scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_VALUE_LENGTH
    return isinstance(value, int | float | bool) and math.isfinite(value)


def _value_problem(op: Any, value: Any) -> str | None:
    """What is wrong with a rule's value for its op (None: nothing). Values are compared as
    text or numbers, never interpreted, but they are stored, shown and compared on every
    prediction, so they are bounded."""
    if op in ("gt", "gte", "lt", "lte"):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else f"op {op} needs a finite number as its value"
    if op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN_VALUES or not all(_scalar(v) for v in value):
            return f"op in needs a list of 1 to {MAX_IN_VALUES} values (text of at most {MAX_VALUE_LENGTH} characters, or numbers)"
        return None
    if not _scalar(value):
        return f"value must be text of at most {MAX_VALUE_LENGTH} characters, a number or true/false"
    return None


def validate_rules(rules: Any, field_names: list[str]) -> None:
    problems = []
    if not isinstance(rules, dict):
        raise ValidationError({"rules": "Rules are an object: {base, rules: [{field, op, value, weight}]}."})
    base = rules.get("base", 0.5)
    if not isinstance(base, int | float) or isinstance(base, bool) or not 0 <= base <= 1:
        problems.append("base must be a number from 0 to 1")
    items = rules.get("rules", [])
    if not isinstance(items, list) or len(items) > 100:
        problems.append("rules must be a list of at most 100 rules")
        items = []
    for i, rule in enumerate(items):
        if not isinstance(rule, dict):
            problems.append(f"rules[{i}] must be an object")
            continue
        if rule.get("field") not in field_names:
            problems.append(f"rules[{i}]: {rule.get('field')!r} is not a field of the type ({', '.join(field_names)})")
        if rule.get("op") not in OPS:
            problems.append(f"rules[{i}]: op must be one of {', '.join(OPS)}")
        weight = rule.get("weight")
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not -1 <= weight <= 1:
            problems.append(f"rules[{i}]: weight must be a number from -1 to 1")
        if rule.get("op") not in ("is_set", "is_empty") and "value" not in rule:
            problems.append(f"rules[{i}]: op {rule.get('op')!r} needs a value")
        elif "value" in rule:
            problem = _value_problem(rule.get("op"), rule["value"])
            if problem:
                problems.append(f"rules[{i}]: {problem}")
        extra = set(rule) - RULE_KEYS
        if extra:
            problems.append(f"rules[{i}]: unknown keys: {', '.join(sorted(map(str, extra)))}")
    unknown = set(rules) - {"base", "rules"}
    if unknown:
        problems.append(f"unknown keys: {', '.join(sorted(unknown))}")
    if problems:
        raise ValidationError({"rules": problems})


def _holds(rule: dict, data: dict) -> bool:
    value = data.get(rule["field"])
    target = rule.get("value")
    op = rule["op"]
    if op == "is_set":
        return value not in (None, "")
    if op == "is_empty":
        return value in (None, "")
    if value is None:
        return False
    if op == "equals":
        return str(value).lower() == str(target).lower()
    if op == "not_equals":
        return str(value).lower() != str(target).lower()
    if op == "contains":
        return str(target).lower() in str(value).lower()
    if op == "in":
        return str(value).lower() in {str(t).lower() for t in (target if isinstance(target, list) else [target])}
    try:
        number, bound = float(value), float(target)
    except (TypeError, ValueError):
        return False
    return {"gt": number > bound, "gte": number >= bound, "lt": number < bound, "lte": number <= bound}[op]


def _describe(rule: dict) -> str:
    op = rule["op"].replace("_", " ")
    if rule["op"] in ("is_set", "is_empty"):
        return f"{rule['field']} {op}"
    value = ", ".join(map(str, rule["value"])) if isinstance(rule.get("value"), list) else rule.get("value")
    return f"{rule['field']} {op} {value}"


def score(rules: dict, data: dict) -> dict:
    base = float(rules.get("base", 0.5))
    contributions = [
        {"field": r["field"], "contribution": round(float(r["weight"]), 4), "text": f"{_describe(r)}: {float(r['weight']):+.2f}"}
        for r in rules.get("rules", [])
        if _holds(r, data)
    ]
    total = min(1.0, max(0.0, base + sum(c["contribution"] for c in contributions)))
    contributions.sort(key=lambda c: -abs(c["contribution"]))
    return {
        "score": round(total, 4),
        "explanation": {
            "method": "cold-start rules",
            "exact": True,
            "base": base,
            "score": round(total, 4),
            "contributions": contributions,
            "top": [c["text"] for c in contributions[:5]],
        },
    }
