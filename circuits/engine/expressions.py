"""One expression language everywhere: a sandboxed Jinja2 environment.

- A config string that is exactly one `{{ … }}` evaluates to the expression's native value
  (a number stays a number, a list stays a list), like n8n's expressions.
- Any other string with `{{`/`{%` is rendered as a text template.
- Attribute access to internals (`__class__`, `mro`, …), mutating methods and unsafe
  callables are refused by Jinja's ImmutableSandboxedEnvironment; nothing is ever eval'd.
- Compiled templates are cached by their source, so a published version pays once.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment


class ExpressionError(Exception):
    """A template/expression that does not compile or fails to evaluate."""


_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.S)
_MAX_RESULT = 1_000_000  # characters of rendered text


class _Undefined(StrictUndefined):
    """Missing values are an error in text, but `is defined`/`default` still work."""


def _tojson(value: Any) -> str:
    return json.dumps(value, default=str)


class _Env(ImmutableSandboxedEnvironment):
    """Dict keys win over dict methods: `trigger.items` is the payload's `items`, not dict.items."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _build_env() -> ImmutableSandboxedEnvironment:
    env = _Env(undefined=_Undefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson
    env.filters["json"] = _tojson
    env.globals.update(
        {
            "len": len,
            "min": min,
            "max": max,
            "abs": abs,
            "round": round,
            "sum": sum,
            "sorted": sorted,
            "int": int,
            "float": float,
            "str": str,
            "bool": bool,
            "now": _now,
        }
    )
    return env


def _now() -> str:
    from django.utils import timezone

    return timezone.now().isoformat()


ENV = _build_env()


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def contains_template(value: Any) -> bool:
    """Does `value` hold a template anywhere (strings inside lists and dicts included)?"""
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, list):
        return any(contains_template(v) for v in value)
    if isinstance(value, dict):
        return any(contains_template(v) for v in value.values())
    return False


@lru_cache(maxsize=4096)
def _compile_expression(source: str):
    try:
        return ENV.compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"invalid expression {source.strip()!r}: {exc.message}") from None


@lru_cache(maxsize=4096)
def _compile_template(source: str):
    try:
        return ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"invalid template: {exc.message} (line {exc.lineno})") from None


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Undefined):
        # Force the strict error with its message ("'x' is undefined").
        str(value)
    return value


def evaluate(expression: str, context: dict) -> Any:
    """Evaluate a bare expression (no braces), e.g. `steps.score.output.score >= 80`."""
    compiled = _compile_expression(expression)
    try:
        return _unwrap(compiled(**context))
    except SecurityError as exc:
        raise ExpressionError(f"refused by the sandbox: {exc}") from None
    except UndefinedError as exc:
        raise ExpressionError(f"{exc.message} in {expression.strip()!r}") from None
    except ExpressionError:
        raise
    except Exception as exc:
        raise ExpressionError(f"{type(exc).__name__}: {exc} in {expression.strip()!r}") from None


def render_value(value: Any, context: dict) -> Any:
    """Render templates inside `value` (strings, lists and dicts, recursively)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        single = _SINGLE.match(value)
        if single and "{{" not in single.group("expr") and "}}" not in single.group("expr"):
            return evaluate(single.group("expr"), context)
        template = _compile_template(value)
        try:
            text = template.render(**context)
        except SecurityError as exc:
            raise ExpressionError(f"refused by the sandbox: {exc}") from None
        except UndefinedError as exc:
            raise ExpressionError(f"{exc.message} in template {value[:80]!r}") from None
        except Exception as exc:
            raise ExpressionError(f"{type(exc).__name__}: {exc} in template {value[:80]!r}") from None
        if len(text) > _MAX_RESULT:
            raise ExpressionError("the rendered text is larger than 1,000,000 characters")
        return text
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    return value


_FORBIDDEN_NAME = re.compile(r"^_|^(mro|func_globals|f_globals|gi_frame|cr_frame|tb_frame)$")


def _check_ast(tree: nodes.Node, where: str) -> None:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(attr, str) and _FORBIDDEN_NAME.search(attr):
            raise ExpressionError(f"access to {attr!r} is not allowed")


def check_value(value: Any, where: str = "config") -> list[str]:
    """Compile every template in `value`; return errors naming where they are (save-time check)."""
    errors: list[str] = []
    if isinstance(value, str) and is_template(value):
        try:
            single = _SINGLE.match(value)
            if single and "{{" not in single.group("expr"):
                _compile_expression(single.group("expr"))
                _check_ast(ENV.parse("{{" + single.group("expr") + "}}"), where)
            else:
                _compile_template(value)
                _check_ast(ENV.parse(value), where)
        except ExpressionError as exc:
            errors.append(f"{where}: {exc}")
        except TemplateSyntaxError as exc:
            errors.append(f"{where}: {exc.message}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            errors += check_value(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            errors += check_value(item, f"{where}.{key}")
    return errors


def check_expression(expression: str, where: str) -> list[str]:
    try:
        _compile_expression(expression)
        _check_ast(ENV.parse("{{" + expression + "}}"), where)
    except ExpressionError as exc:
        return [f"{where}: {exc}"]
    except TemplateSyntaxError as exc:
        return [f"{where}: {exc.message}"]
    return []
