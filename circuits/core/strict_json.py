"""The one JSON reader for everything Circuit OS accepts from outside.

Python's `json` module is lenient where PostgreSQL and other JSON readers are not: it
accepts `NaN` and `Infinity`, turns `1e999` into infinity, hands back lone surrogates and
NUL characters from `\\u` escapes (jsonb refuses both when the value is saved), recurses
once per nesting level (a few thousand `[` raise RecursionError) and converts integers of
any length (`int()` gives up with ValueError past 4,300 digits, after quadratic work).
`loads` refuses each of these with a `JSONRefused` naming the problem and where it is,
so a caller answers 400 instead of failing later with a 500.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings

DEFAULT_MAX_DEPTH = 100
DEFAULT_MAX_NUMBER_DIGITS = 1000
# Python refuses to convert integers longer than this (sys.get_int_max_str_digits()).
_PYTHON_INT_DIGITS = 4300

# Characters PostgreSQL cannot store in text or jsonb: NUL, and UTF-16 surrogates that
# arrive unpaired through `\ud83d`-style escapes (paired escapes decode to one character).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JSONRefused(ValueError):
    """Input that is not JSON, or JSON Circuit OS does not accept; `detail` says why."""

    def __init__(self, detail: str, *, line: int | None = None, column: int | None = None, path: str | None = None):
        super().__init__(detail)
        self.detail, self.line, self.column, self.path = detail, line, column, path


class _NumberRefused(ValueError):
    pass


def max_depth() -> int:
    return int(getattr(settings, "JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH))


def max_number_digits() -> int:
    return min(int(getattr(settings, "JSON_MAX_NUMBER_DIGITS", DEFAULT_MAX_NUMBER_DIGITS)), _PYTHON_INT_DIGITS)


def _describe(path: tuple) -> str:
    parts = []
    while path:
        path, key = path
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return "$" + "".join(reversed(parts))


def _unstorable(value: str) -> str | None:
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "a NUL character (\\u0000), which cannot be stored"
    return f"a lone surrogate (\\u{ord(found.group()):04x}), which is not valid Unicode"


def check_text(value: str, where: str) -> None:
    """Refuse text PostgreSQL cannot store (NUL, lone surrogates); `where` names it in the error."""
    problem = _unstorable(value)
    if problem is not None:
        raise JSONRefused(f"{where} contains {problem}.", path=where)


def check_storable(data: Any, *, depth: int | None = None) -> None:
    """Every string and key of a decoded document is storable text, and it nests at most
    `depth` levels (walked with a stack, not recursion)."""
    limit = depth or max_depth()
    stack: list[tuple[Any, tuple, int]] = [(data, (), 0)]
    while stack:
        value, path, level = stack.pop()
        if isinstance(value, str):
            problem = _unstorable(value)
            if problem is not None:
                where = _describe(path)
                raise JSONRefused(f"The text at {where} contains {problem}.", path=where)
        elif isinstance(value, dict | list):
            if level >= limit:
                raise JSONRefused(f"The JSON is nested too deeply (more than {limit} levels).", path=_describe(path))
            if isinstance(value, dict):
                for key, item in value.items():
                    problem = _unstorable(key)
                    if problem is not None:
                        where = _describe(path)
                        raise JSONRefused(f"A key in {where} contains {problem}.", path=where)
                    stack.append((item, (path, key), level + 1))
            else:
                stack.extend((item, (path, index), level + 1) for index, item in enumerate(value))


def _parsers(digits: int):
    def parse_int(text: str) -> int:
        if len(text) - text.startswith("-") > digits:
            raise _NumberRefused(f"an integer has {len(text.lstrip('-')):,} digits; at most {digits:,} are accepted")
        return int(text)

    def parse_float(text: str) -> float:
        if len(text) > digits:
            raise _NumberRefused(f"a number is written with {len(text):,} characters; at most {digits:,} are accepted")
        value = float(text)
        if not math.isfinite(value):
            raise _NumberRefused(f"the number {text[:40]} is too large (beyond the range of a 64-bit float)")
        return value

    def parse_constant(name: str) -> None:
        raise _NumberRefused(f"{name} is not a JSON number")

    return parse_int, parse_float, parse_constant


def loads(data: str | bytes | bytearray, *, depth: int | None = None, digits: int | None = None) -> Any:
    """Decode one JSON document strictly; JSONRefused says what is wrong."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONRefused(f"The body is not valid UTF-8 (byte {exc.start}).") from None
    else:
        text = data
    limit = depth or max_depth()
    parse_int, parse_float, parse_constant = _parsers(digits or max_number_digits())
    try:
        value = json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant)
    except _NumberRefused as exc:
        raise JSONRefused(f"Refused JSON: {exc}.") from None
    except json.JSONDecodeError as exc:
        raise JSONRefused(f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.", line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        # The C decoder recurses once per level and stops cleanly at the interpreter's
        # recursion limit (about 1,000), far below a stack overflow; deeper is refused.
        raise JSONRefused(f"The JSON is nested too deeply (more than {limit} levels).") from None
    check_storable(value, depth=limit)
    return value
