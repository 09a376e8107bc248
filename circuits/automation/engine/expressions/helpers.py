"""Everything a template can call: a reviewed set of pure helpers, filters and tests.

Each one charges the render's budget and, where its result can be much larger than its input
(`center(10**9)`, `replace('a', 'a' * 1000)`, `'%*d'`), checks the size *before* doing the work.
Python types are never exposed: `int`, `str`, … are plain functions here, so there is no
`str.format` (or any other class attribute) to reach through them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import pass_environment
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.runtime import Undefined
from jinja2.sandbox import SandboxedFormatter
from jinja2.tests import TESTS
from jinja2.utils import Namespace
from markupsafe import EscapeFormatter, Markup

from circuits.automation.engine.expressions.budget import MAX_FORMAT_WIDTH, MAX_INT_BITS, Budget, ExpressionError, LimitError, MethodValue, current

_NUMBER = (int, float)
_MISSING = object()


def _refuse(message: str) -> None:
    raise ExpressionError(message)


# --- text -------------------------------------------------------------------------


def materialize(value: Any, budget: Budget) -> list:
    """An iterator (`x|map(...)`, `d.items()`…) as a list, one loop iteration per item."""
    items = []
    for item in value:
        budget.loop()
        items.append(item)
    budget.produce(len(items))
    return items


def to_text(value: Any) -> str:
    """str(value), refused before it starts if the value is too large to print."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | float):
        return str(value)
    if isinstance(value, int):
        return str(value)  # computed integers stay under MAX_INT_BITS
    if isinstance(value, Undefined):
        return str(value)  # missing data prints as nothing; an unknown name raises
    budget = current()
    if isinstance(value, Iterator):
        value = materialize(value, budget)
    budget.allow(budget.measure(value), "the text of this value")
    text = str(value)
    budget.allow(len(text), "the text of this value")
    budget.produce(len(text))
    return text


_PLAIN = frozenset({int, float, bool, str, type(None)})


def nulls_for_missing(value: Any, tick: Callable[[], None]) -> Any:
    """`value` with every missing value (undefined) inside it replaced by None, JSON's null.

    Only containers that hold one are copied; each distinct container is looked at once
    (shared references are not walked again), so this costs no more than the size check
    `measure` has already made of the same value.
    """
    seen: dict[int, Any] = {}

    def clean(item: Any) -> Any:
        if isinstance(item, Undefined):
            return None
        if not isinstance(item, list | tuple | dict):
            return item
        known = seen.get(id(item), _MISSING)
        if known is not _MISSING:
            return known
        seen[id(item)] = item  # while it is being cleaned (a cycle was refused by measure already)
        if len(seen) % 1024 == 0:
            tick()
        result = item
        if isinstance(item, dict):
            if not set(map(type, item.values())) <= _PLAIN or not set(map(type, item)) <= _PLAIN:
                pairs = [(clean(k), clean(v)) for k, v in item.items()]
                if any(k is not k0 or v is not v0 for (k, v), (k0, v0) in zip(pairs, item.items(), strict=True)):
                    result = dict(pairs)
        elif not set(map(type, item)) <= _PLAIN:
            items = [clean(i) for i in item]
            if any(a is not b for a, b in zip(items, item, strict=True)):
                result = items if isinstance(item, list) else tuple(items)
        seen[id(item)] = result
        return result

    return clean(value)


def check_int(value: Any, what: str = "the number") -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise LimitError(f"{what} would be larger than {MAX_INT_BITS:,} bits")
    return value


def check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and abs(value) > MAX_FORMAT_WIDTH:
        raise LimitError(f"{what} {value} is larger than {MAX_FORMAT_WIDTH:,}")


# --- formatting: '%' and .format() ---------------------------------------------------

_PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d*))?[hlL]?(?P<conv>.?)", re.S)


def check_percent(fmt: str, values: Any) -> None:
    """Before `fmt % values` runs: widths bounded, and the result no larger than the limit."""
    budget = current()
    args = list(values) if isinstance(values, tuple) else [values]
    position = 0
    escape = 6 if isinstance(fmt, Markup) else 1  # Markup % escapes each argument

    def take() -> Any:
        nonlocal position
        position += 1
        return args[position - 1] if position <= len(args) else None

    total = len(fmt)
    for match in _PERCENT.finditer(fmt):
        conv = match["conv"]
        if conv == "%":
            continue
        width = take() if match["width"] == "*" else int(match["width"] or 0)
        prec = take() if match["prec"] == "*" else int(match["prec"] or 0)
        check_width(width, "the width")
        check_width(prec, "the precision")
        value = values.get(match["key"]) if match["key"] is not None and isinstance(values, Mapping) else take()
        if conv in "ra":
            budget.allow(budget.measure(value), "the formatted value")
            piece = len(repr(value))
        elif conv == "s":
            piece = len(to_text(value))
        elif isinstance(value, int):
            piece = len(str(value)) + 2
        else:
            piece = 400  # a float's digits: 1e308 has 309
        piece += prec if isinstance(prec, int) and prec > 0 else 0
        total += max(abs(width) if isinstance(width, int) else 0, piece) * escape
        budget.allow(total, "the formatted text")


_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<prec>\d*))?[bcdeEfFgGnosxX%]?", re.S)


def check_spec(spec: str) -> None:
    if not spec:
        return
    match = _SPEC.fullmatch(spec)
    if match is None:
        _refuse(f"unsupported format spec {spec[:40]!r}")
    for part, what in ((match["width"], "the width"), (match["prec"], "the precision")):
        if part and (len(part) > 6 or int(part) > MAX_FORMAT_WIDTH):
            raise LimitError(f"{what} {part[:12]} is larger than {MAX_FORMAT_WIDTH:,}")


class _BoundedFormatter(SandboxedFormatter):
    """str.format with the sandbox's attribute rules, bounded widths and a bounded result."""

    def __init__(self, env, budget: Budget, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self.budget = budget
        self.total = 0

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is None:
            return value
        if conversion == "s":
            return to_text(value)
        if conversion in ("r", "a"):
            self.budget.allow(self.budget.measure(value), "the formatted value")
            return repr(value) if conversion == "r" else ascii(value)
        _refuse(f"unknown conversion !{conversion}")

    def format_field(self, value: Any, format_spec: str) -> str:
        self.budget.tick()
        check_spec(format_spec)
        if not isinstance(value, str | int | float) or isinstance(value, Undefined):
            value = to_text(value)
        text = super().format_field(value, format_spec)
        self.total += len(text)
        self.budget.allow(self.total, "the formatted text")
        return text


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


class BoundFormat(MethodValue):
    """`'…'.format` as templates see it (what the sandbox hands out instead of the method)."""

    __slots__ = ("as_map", "env", "text")

    def __init__(self, env, text: str, as_map: bool) -> None:
        self.env = env
        self.text = text
        self.as_map = as_map

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        budget = current()
        if self.as_map:
            if kwargs or len(args) != 1:
                _refuse("format_map() takes exactly one argument")
            args, kwargs = (), args[0]
        if isinstance(self.text, Markup):
            formatter: _BoundedFormatter = _BoundedEscapeFormatter(self.env, budget, escape=self.text.escape)
        else:
            formatter = _BoundedFormatter(self.env, budget)
        result = type(self.text)(formatter.vformat(self.text, args, kwargs))
        budget.allow(len(result), "the formatted text")
        budget.produce(len(result))
        return result

    def __repr__(self) -> str:
        return "<format>"


# --- helpers (globals) ---------------------------------------------------------------


class Helper:
    """A function templates may call; the only kind of global besides data."""

    __slots__ = ("func", "name")

    def __init__(self, name: str, func: Callable[..., Any]) -> None:
        self.name = name
        self.func = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<helper {self.name}>"


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER)


def _len(value: Any) -> int:
    return len(value)


def _extreme(func: Callable[..., Any]) -> Callable[..., Any]:
    def pick(*args: Any, default: Any = _MISSING) -> Any:
        charge_items(current(), args[0] if len(args) == 1 else args)
        if default is _MISSING:
            return func(*args)
        return func(*args, default=default)

    return pick


def _abs(value: Any) -> Any:
    return abs(value)


def _check_ndigits(ndigits: Any) -> None:
    if isinstance(ndigits, int) and abs(ndigits) > 100:
        _refuse(f"round() to {ndigits} digits: at most 100")


def _round(value: Any, ndigits: Any = None) -> Any:
    _check_ndigits(ndigits)
    return round(value, ndigits)


def _sum_numbers(items: Any, start: Any = 0) -> Any:
    if not _is_number(start):
        _refuse("sum() adds numbers: use '|join' for text and '+' for lists")
    budget = current()
    charge_items(budget, items)
    total = start
    for item in items:
        if not _is_number(item):
            _refuse(f"sum() adds numbers, not {type(item).__name__}: use '|join' for text and '+' for lists")
        total += item
    check_int(total)
    budget.tick()
    return total


def _sorted(items: Any, reverse: bool = False) -> list:
    charge_items(current(), items)
    result = sorted(items, reverse=bool(reverse))
    current().produce(len(result))
    return result


def _now() -> str:
    from django.utils import timezone

    return timezone.now().isoformat()


def _range(*args: Any) -> range:
    budget = current()
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = budget.max_loop_iterations + 1
    if size > budget.max_loop_iterations:
        raise LimitError(f"range() of more than {budget.max_loop_iterations:,} numbers (EXPRESSION_MAX_LOOP_ITERATIONS)")
    return numbers


def _made(value: Any, what: str) -> Any:
    budget = current()
    budget.allow(budget.measure(value), what)
    budget.produce(len(value) if isinstance(value, dict) else 1)
    return value


def _dict(*args: Any, **kwargs: Any) -> dict:
    return _made(dict(*args, **kwargs), "dict()")


def _namespace(*args: Any, **kwargs: Any) -> Namespace:
    return _made(Namespace(*args, **kwargs), "namespace()")


def _int(value: Any = 0, base: Any = _MISSING) -> int:
    result = int(value) if base is _MISSING else int(value, base)
    return check_int(result)


def _float(value: Any = 0.0) -> float:
    return float(value)


def _str(value: Any = "") -> str:
    return str(to_text(value))


def _bool(value: Any = False) -> bool:
    return bool(value)


GLOBALS: dict[str, Helper] = {
    name: Helper(name, func)
    for name, func in {
        "len": _len,
        "min": _extreme(min),
        "max": _extreme(max),
        "abs": _abs,
        "round": _round,
        "sum": _sum_numbers,
        "sorted": _sorted,
        "now": _now,
        "range": _range,
        "dict": _dict,
        "namespace": _namespace,
        "int": _int,
        "float": _float,
        "str": _str,
        "bool": _bool,
    }.items()
}

# Jinja's defaults that are gone, so a save-time check can name them.
REMOVED_GLOBALS = frozenset({"lipsum", "cycler", "joiner", "self"})


# --- bounded string operations (filters and methods share them) ---------------------------


def check_replace(text: str, old: str, new: str, count: Any = None) -> None:
    occurrences = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    current().allow(len(text) + occurrences * max(0, len(new) - len(old)), "the replaced text")


def join_bounded(items: Any, separator: str) -> str:
    budget = current()
    charge_items(budget, items)
    separator = to_text(separator)
    parts = []
    total = 0
    for item in items:
        piece = to_text(item)
        total += len(piece) + len(separator)
        budget.allow(total, "the joined text")
        parts.append(piece)
    text = separator.join(parts)
    budget.allow(len(text), "the joined text")  # a Markup separator escapes what it joins
    budget.produce(len(text))
    return text


# --- filters --------------------------------------------------------------------------


def _count_result(budget: Budget, result: Any, name: str) -> None:
    if isinstance(result, str):
        budget.allow(len(result), f"the result of '|{name}'")
        budget.produce(len(result))
    elif isinstance(result, list | tuple | dict):
        # Its logical size, shared references counted again: `|map('d', big, true)|list`
        # repeats one big value without copying it, and comparing or printing the result
        # would still walk every repeat.
        size = budget.allow(budget.measure(result), f"the result of '|{name}'")
        budget.produce(size)


def _pre_center(value: Any, width: Any = 80) -> None:
    if isinstance(width, int):
        current().allow(width, "the centred text")


def _pre_indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> None:
    if isinstance(s, str):
        indent = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        current().allow(len(s) + (s.count("\n") + 2) * max(indent, 0), "the indented text")


def _pre_wordwrap(s: Any, width: Any = 79, break_long_words: bool = True, wrapstring: Any = None, break_on_hyphens: bool = True) -> None:
    if not isinstance(s, str) or not isinstance(width, int):
        return
    words = s.split()
    longest = max(map(len, words), default=0)
    step = max(width, 1)
    if break_long_words and longest * longest // step > 50_000_000:
        raise LimitError(f"a {longest:,}-character word is too long to wrap at width {width}")
    lines = len(words) + len(s) // step + s.count("\n") + 1
    joiner = len(wrapstring) if isinstance(wrapstring, str) else 1
    current().allow(len(s) + lines * joiner, "the wrapped text")


def _pre_replace(s: Any, old: Any, new: Any, count: Any = None) -> None:
    check_replace(to_text(s), to_text(old), to_text(new), count)


def _pre_format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent(to_text(value), kwargs or args)


def _pre_fill(value: Any, count: Any, fill_with: Any = None) -> None:
    budget = current()
    if isinstance(count, int):
        budget.allow(count, "a batch")
        if fill_with is not None:
            budget.allow(budget.measure(fill_with) * count, "the filled batch")


def _pre_slice(value: Any, slices: Any, fill_with: Any = None) -> None:
    _pre_fill(value, slices, fill_with)
    if isinstance(slices, int) and slices > 0:
        current().loop(slices)


def _number_filter(convert: Callable[..., Any], fallback: Any) -> Callable[..., Any]:
    """`|int` / `|float` give their default for missing data, as for any value they cannot convert."""

    def number(value: Any, default: Any = fallback, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, Undefined):
            str(value)  # an unknown name raises
            return default
        return convert(value, default, *args, **kwargs)

    return number


def _pre_round(value: Any, precision: Any = 0, method: str = "common") -> None:
    _check_ndigits(precision)


def charge_items(budget: Budget, items: Any) -> None:
    """Work done item by item in Python counts as loop iterations (sorting 10**6 items is a loop)."""
    try:
        count = len(items)
    except TypeError:
        return  # an iterator: whatever produces its items is charged for them
    if count:
        budget.loop(count)


# Filters that walk their input item by item.
_WALKING_FILTERS = frozenset(
    (
        "batch",
        "dictsort",
        "groupby",
        "items",
        "list",
        "map",
        "max",
        "min",
        "reject",
        "rejectattr",
        "reverse",
        "select",
        "selectattr",
        "slice",
        "sort",
        "unique",
    )
)


def _wrap_filter(name: str, func: Callable[..., Any], pre: Callable[..., None] | None = None) -> Callable[..., Any]:
    pass_arg = getattr(func, "jinja_pass_arg", None)
    skip = 0 if pass_arg is None else 1  # the context/environment Jinja passes first
    walks = name in _WALKING_FILTERS

    def bounded_filter(*args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.call()
        if walks and len(args) > skip:
            charge_items(budget, args[skip])
        if pre is not None:
            pre(*args[skip:], **kwargs)
        result = func(*args, **kwargs)
        _count_result(budget, result, name)
        return result

    if pass_arg is not None:
        bounded_filter.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    bounded_filter.__name__ = f"filter_{name}"
    return bounded_filter


@pass_environment
def _join_filter(environment, value: Any, d: str = "", attribute: Any = None) -> str:
    if attribute is not None:
        charge_items(current(), value)
        value = map(make_attrgetter(environment, attribute), value)
    return join_bounded(value, d)


@pass_environment
def _sum_filter(environment, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    if attribute is not None:
        charge_items(current(), iterable)
        iterable = map(make_attrgetter(environment, attribute), iterable)
    return _sum_numbers(iterable, start)


def _string_filter(value: Any) -> str:
    return to_text(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Undefined):
        str(value)  # an unknown name raises; missing data is null
        return None
    if isinstance(value, Iterator):
        return materialize(value, current())
    return to_text(value)


def tojson(value: Any) -> str:
    """JSON text (as `json.dumps(value, default=str)` always gave), refused when too large."""
    budget = current()
    budget.allow(budget.measure(value), "the JSON of this value")
    text = json.dumps(value, default=_json_default)
    budget.allow(len(text), "the JSON text")
    budget.produce(len(text))
    return text


_PRECHECKS: dict[str, Callable[..., None]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "wordwrap": _pre_wordwrap,
    "replace": _pre_replace,
    "format": _pre_format,
    "batch": _pre_fill,
    "slice": _pre_slice,
    "round": _pre_round,
}
_OWN_FILTERS: dict[str, Callable[..., Any]] = {
    "join": _join_filter,
    "sum": _sum_filter,
    "string": _string_filter,
    "int": _number_filter(FILTERS["int"], 0),
    "float": _number_filter(FILTERS["float"], 0.0),
    "tojson": tojson,
    "json": tojson,
}
# Left out on review: pprint (an unbounded pretty-printer), urlize (regex-heavy HTML), xmlattr
# (HTML attributes) and the async variants; nothing an automation needs.
_KEPT_FILTERS = (
    "abs",
    "attr",
    "batch",
    "capitalize",
    "center",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "filesizeformat",
    "first",
    "forceescape",
    "format",
    "groupby",
    "indent",
    "items",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "random",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "striptags",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "wordcount",
    "wordwrap",
)


def build_filters() -> dict[str, Callable[..., Any]]:
    filters = {name: _wrap_filter(name, FILTERS[name], _PRECHECKS.get(name)) for name in _KEPT_FILTERS}
    filters.update({name: _wrap_filter(name, func) for name, func in _OWN_FILTERS.items()})
    return filters


def build_tests() -> dict[str, Callable[..., Any]]:
    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        pass_arg = getattr(func, "jinja_pass_arg", None)

        def bounded_test(*args: Any, **kwargs: Any) -> Any:
            current().call()
            return func(*args, **kwargs)

        if pass_arg is not None:
            bounded_test.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
        return bounded_test

    return {name: wrap(func) for name, func in TESTS.items()}


# --- methods of data values ------------------------------------------------------------

# Methods whose result is never much larger than the string itself.
_STR_PLAIN = frozenset(
    (
        "capitalize",
        "casefold",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "rfind",
        "rindex",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
    )
)
STR_METHODS = _STR_PLAIN | {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "format"}
LIST_METHODS = frozenset({"count", "index"})
DICT_METHODS = frozenset({"get", "keys", "values", "items"})
LOOP_ATTRIBUTES = frozenset(
    (
        "index",
        "index0",
        "revindex",
        "revindex0",
        "first",
        "last",
        "length",
        "depth",
        "depth0",
        "previtem",
        "nextitem",
        "cycle",
        "changed",
    )
)
LOOP_METHODS = frozenset({"cycle", "changed"})


def call_str_method(text: str, name: str, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    budget = current()
    if name == "join":
        if kwargs or len(args) != 1:
            _refuse("join() takes exactly one argument")
        return join_bounded(args[0], text)
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        budget.allow(args[0], f"the result of {name}()")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            budget.allow(len(text) + text.count("\t") * max(size, 0), "the result of expandtabs()")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        check_replace(text, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count"))
    result = method(*args, **kwargs)
    _count_result(budget, result, name)
    return result
