"""One expression language everywhere: a sandboxed Jinja2 environment (see docs/expressions.md).

- A config string that is exactly one `{{ … }}` evaluates to the expression's native value
  (a number stays a number, a list stays a list), like n8n's expressions.
- Any other string with `{{`/`{%` is rendered as a text template.
- Only data and a reviewed set of pure helpers, filters and tests are reachable (sandbox.py,
  helpers.py); nothing is ever eval'd, and compiling (what saving does) never runs anything.
- Every render has a `Budget` (budget.py): time (and the engine's cancel check), loop
  iterations, calls, text and the size of every value it makes.
- A missing key is empty data, not an error (`trigger.company or 'none'`); an unknown name is
  still an error (sandbox.MissingData / StrictData).
- Compiled templates are cached by their source, so a published version pays once.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from django.conf import settings
from jinja2 import Template, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.runtime import Undefined

from actions.sdk.templates import is_template
from circuits.automation.engine.expressions import helpers
from circuits.automation.engine.expressions.budget import Budget, ExpressionError, LimitError, activate, deactivate, measure
from circuits.automation.engine.expressions.sandbox import Sandbox

__all__ = [
    "Budget",
    "ExpressionError",
    "LimitError",
    "check_expression",
    "check_value",
    "contains_template",
    "evaluate",
    "is_template",
    "parse",
    "render_value",
    "templates_in",
]

ENV = Sandbox()

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.S)
_MESSAGE_CHARS = 300


def contains_template(value: Any) -> bool:
    """Does `value` hold a template anywhere (strings inside lists and dicts included)?"""
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, list):
        return any(contains_template(v) for v in value)
    if isinstance(value, dict):
        return any(contains_template(v) for v in value.values())
    return False


def _single_expression(value: str) -> str | None:
    """The expression of a value that is exactly one `{{ … }}` (it keeps its type)."""
    single = _SINGLE.match(value)
    if single and "{{" not in single.group("expr") and "}}" not in single.group("expr"):
        return single.group("expr")
    return None


# --- compiling: parse, check, compile; never run ----------------------------------------

_FORBIDDEN_ATTRIBUTE = re.compile(
    r"^_|^(mro|func_globals|func_code|f_globals|f_locals|f_builtins|f_code|f_back|gi_frame|gi_code|cr_frame|cr_code"
    r"|ag_frame|ag_code|tb_frame|tb_next|im_func|im_self|co_consts)$"
)
_REFUSED_NODES: dict[type, str] = {
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from … import",
    nodes.Block: "block",
    nodes.ScopedEvalContextModifier: "autoescape",
    nodes.EvalContextModifier: "autoescape",
}
# Filters whose argument names an attribute (`|attr('x')`, `|selectattr('x')`, `attribute='x'`).
_ATTRIBUTE_FILTERS = frozenset({"attr", "selectattr", "rejectattr", "groupby"})


def _refused(message: str) -> ExpressionError:
    return ExpressionError(f"refused by the sandbox: {message}")


def _check_attribute_name(name: Any) -> None:
    if isinstance(name, str):
        for part in name.split("."):
            if _FORBIDDEN_ATTRIBUTE.search(part):
                raise _refused(f"access to {part!r} is not allowed")


def _check_format_string(text: str) -> None:
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(text) if field]
    except ValueError:
        return  # not a valid format string: it fails (harmlessly) when used
    for field in fields:
        for part in re.split(r"[.\[\]]", field):
            _check_attribute_name(part)


def _walk(tree: nodes.Node):
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.iter_child_nodes())


def _check_node(node: nodes.Node) -> None:
    if type(node) in _REFUSED_NODES:
        raise _refused(f"'{_REFUSED_NODES[type(node)]}' is not available in templates")
    if isinstance(node, nodes.Name):
        if node.ctx == "load" and node.name in helpers.REMOVED_GLOBALS:
            raise _refused(f"{node.name!r} is not available in templates")
    elif isinstance(node, nodes.Getattr):
        _check_attribute_name(node.attr)
        target = node.node
        if isinstance(target, nodes.Name) and target.name in helpers.GLOBALS:
            raise _refused(f"{target.name!r} is a function; it has no attribute {node.attr!r}")
        if node.attr in ("format", "format_map") and isinstance(target, nodes.Const) and isinstance(target.value, str):
            _check_format_string(target.value)
    elif isinstance(node, nodes.Getitem):
        if isinstance(node.arg, nodes.Const):
            _check_attribute_name(node.arg.value)
    elif isinstance(node, nodes.Filter):
        if node.name in _ATTRIBUTE_FILTERS and node.args and isinstance(node.args[0], nodes.Const):
            _check_attribute_name(node.args[0].value)
        for keyword in node.kwargs:
            if keyword.key == "attribute" and isinstance(keyword.value, nodes.Const):
                _check_attribute_name(keyword.value.value)


def _check_tree(tree: nodes.Node) -> list[nodes.For]:
    """Refuse at compile (and so at save) time what the sandbox would refuse when run."""
    loops = []
    for node in _walk(tree):
        _check_node(node)
        if isinstance(node, nodes.For):
            loops.append(node)
    return loops


def _guard_loops(loops: list[nodes.For]) -> None:
    # Every `for` iterates through environment.guard_iter, which charges one loop iteration
    # per item: nested loops and loops whose body outputs nothing are bounded too.
    for loop in loops:
        loop.iter = nodes.Call(nodes.EnvironmentAttribute("guard_iter"), [loop.iter], [], None, None, lineno=loop.lineno)
        loop.iter.set_environment(ENV)


def _max_source_chars() -> int:
    return int(getattr(settings, "EXPRESSION_MAX_SOURCE_CHARS", 20_000))


def _check_length(source: str) -> None:
    limit = _max_source_chars()
    if len(source) > limit:
        raise LimitError(f"the template is longer than {limit:,} characters (EXPRESSION_MAX_SOURCE_CHARS)")


def _compile(source: str, expression: bool) -> Template:
    _check_length(source)
    try:
        if expression:
            parser = Parser(ENV, source, state="variable")
            expr = parser.parse_expression()
            if not parser.stream.eos:
                raise TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno, None, None)
            loops = _check_tree(expr)
            tree = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1)
            tree.set_environment(ENV)
        else:
            tree = Parser(ENV, source).parse()
            loops = _check_tree(tree)
        _guard_loops(loops)
        return ENV.from_string(tree)
    except TemplateSyntaxError as exc:
        if expression:
            raise ExpressionError(f"invalid expression {source.strip()[:80]!r}: {exc.message}") from None
        raise ExpressionError(f"invalid template: {exc.message} (line {exc.lineno})") from None
    except ExpressionError:
        raise
    except (RecursionError, MemoryError, SyntaxError):
        raise ExpressionError("the template is nested too deeply") from None
    except Exception as exc:  # e.g. an integer literal with too many digits
        raise ExpressionError(f"invalid template: {_short(exc)}") from None


@lru_cache(maxsize=2048)
def _compiled(source: str, expression: bool) -> Template:
    return _compile(source, expression)


# --- running ---------------------------------------------------------------------------


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "…"


def _as_value(result: Any, budget: Budget) -> Any:
    """A single expression's value as the engine stores it: data, never an internal object."""
    if isinstance(result, Undefined):
        str(result)  # an unknown name raises here ("'x' is undefined"); missing data is null
        return None
    if isinstance(result, Iterator | range | type({}.keys()) | type({}.values()) | type({}.items())):
        result = helpers.materialize(iter(result), budget)
    # Undefined values, methods or too deep nesting anywhere inside are refused. The size may
    # exceed the value limit (a value passed through from the payload may be as large as the
    # payload limit) but not the render's total: shared references would otherwise make a value
    # whose JSON is far larger than its memory (the engine serialises outputs to check them).
    size = measure(result, budget.max_total_size, budget.tick)
    if size > budget.max_total_size:
        raise LimitError(f"the value is larger than {budget.max_total_size:,} characters or items (EXPRESSION_MAX_TOTAL_SIZE)")
    return helpers.nulls_for_missing(result, budget.tick)


def _run(template: Template, context: dict, budget: Budget, source: str, expression: bool) -> Any:
    where = repr(source.strip()[:80]) if expression else f"template {source[:80]!r}"
    token = activate(budget)
    try:
        ctx = template.new_context(context)
        if not expression:
            return "".join(template.root_render_func(ctx))
        for _ in template.root_render_func(ctx):
            pass
        return _as_value(ctx.vars["result"], budget)
    except BaseException as exc:
        if budget.interrupted is not None and exc is budget.interrupted:
            raise  # the engine's own stop (cancelled, out of time): not an expression error
        if isinstance(exc, ExpressionError):
            raise
        if isinstance(exc, SecurityError):
            raise ExpressionError(f"refused by the sandbox: {_short(exc)}") from None
        if isinstance(exc, UndefinedError):
            raise ExpressionError(f"{exc.message} in {where}") from None
        if isinstance(exc, RecursionError):
            raise ExpressionError(f"too deeply nested or recursive: {where}") from None
        if isinstance(exc, MemoryError):
            raise ExpressionError(f"out of memory in {where}") from None
        if isinstance(exc, Exception):
            raise ExpressionError(f"{type(exc).__name__}: {_short(exc)} in {where}") from None
        raise
    finally:
        deactivate(token)


def evaluate(expression: str, context: dict, *, budget: Budget | None = None, cached: bool = True) -> Any:
    """Evaluate a bare expression (no braces), e.g. `steps.score.output.score >= 80`.

    `cached=False` compiles without the shared cache: for sources typed by a person (the
    builder's preview), which must not be able to push published templates out of it."""
    template = _compiled(expression, True) if cached else _compile(expression, True)
    return _run(template, context, budget or Budget(), expression, True)


def render_value(value: Any, context: dict, *, budget: Budget | None = None, cached: bool = True) -> Any:
    """Render templates inside `value` (strings, lists and dicts, recursively).

    `budget` bounds the whole value (the engine passes the step's deadline and its cancel
    check); without one, a render gets the default limits from settings. `cached`: see evaluate.
    """
    budget = budget or Budget()
    if isinstance(value, str):
        if not is_template(value):
            return value
        _check_length(value)
        expression = _single_expression(value)
        if expression is not None:
            return evaluate(expression, context, budget=budget, cached=cached)
        template = _compiled(value, False) if cached else _compile(value, False)
        return _run(template, context, budget, value, False)
    if isinstance(value, list):
        return [render_value(v, context, budget=budget, cached=cached) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context, budget=budget, cached=cached) for k, v in value.items()}
    return value


# --- save-time checks: parse + compile + AST checks, bounded by the source length -------------


def check_value(value: Any, where: str = "config") -> list[str]:
    """Compile every template in `value`; return errors naming where they are (save-time check)."""
    errors: list[str] = []
    if isinstance(value, str) and is_template(value):
        expression = _single_expression(value)
        try:
            _check_length(value)
            # Not cached: whoever can call a validation must not be able to fill the cache.
            _compile(value if expression is None else expression, expression is not None)
        except ExpressionError as exc:
            errors.append(f"{where}: {exc}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            errors += check_value(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            errors += check_value(item, f"{where}.{key}")
    return errors


def templates_in(value: Any, where: str = "config") -> Iterator[tuple[str, str]]:
    """(where, template) for every template in `value`, named the way check_value names them."""
    if isinstance(value, str):
        if is_template(value):
            yield where, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from templates_in(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from templates_in(item, f"{where}.{key}")


def parse(source: str) -> nodes.Template:
    """The syntax tree of a template (a single `{{ … }}` parses as one too): parsed only, never
    compiled or run. Raises ExpressionError for what check_value would refuse to parse."""
    _check_length(source)
    try:
        return Parser(ENV, source).parse()
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"invalid template: {exc.message} (line {exc.lineno})") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the template is nested too deeply") from None


def check_expression(expression: str, where: str) -> list[str]:
    try:
        _compile(expression, True)
    except ExpressionError as exc:
        return [f"{where}: {exc}"]
    return []
