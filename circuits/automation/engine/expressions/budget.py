"""What one render may spend: time, loop iterations, calls, text and the size of values.

A `Budget` is created for every render (`render_value`, `evaluate`) and made current through
a context variable; the sandbox's hooks (every loop iteration, call, filter, operator and
output chunk) charge it. Limits come from settings, so operators tune them per deployment.

Sizes are *logical*: a string counts its characters and a list or dict one per item, counted
through shared references. `[x] * 1000` is a small object for Python, but printing or comparing
it walks `x` a thousand times; counting that way is what keeps every walk of a template value
(text, JSON, comparison, sorting) bounded by the limit.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from jinja2.runtime import Undefined
from jinja2.utils import Namespace

# Integers a template computes stay below this many bits (about 4,200 decimal digits, under
# Python's own limit for turning an integer into text), so arithmetic is always quick.
MAX_INT_BITS = 14_000
# Width and precision in one format field ('{:>N}', '%*d', '|center(N)' …).
MAX_FORMAT_WIDTH = 10_000
# Nested macro / recursive-loop calls.
MAX_CALL_DEPTH = 100
# Lists and dicts a template makes or prints nest at most this deep (JSON and repr recurse).
MAX_NESTING = 200
# How often the engine's own check (cancel flag, execution time limit) runs during a render.
CHECK_EVERY_SECONDS = 0.1


class ExpressionError(Exception):
    """A template/expression that does not compile, fails to evaluate, or was refused."""


class LimitError(ExpressionError):
    """A render went past one of its limits."""


def _setting(name: str, default: float) -> float:
    return getattr(settings, name, default)


@dataclass
class Budget:
    """Per-render limits and counters; `deadline` is a time.monotonic() value.

    `check` is called at most every CHECK_EVERY_SECONDS while the render runs; whatever it
    raises (the engine's Cancelled or LimitExceeded) stops the render and reaches the caller
    unchanged.
    """

    deadline: float | None = None
    check: Callable[[], None] | None = None
    max_seconds: float = field(default_factory=lambda: float(_setting("EXPRESSION_MAX_SECONDS", 2.0)))
    max_value_size: int = field(default_factory=lambda: int(_setting("EXPRESSION_MAX_VALUE_SIZE", 1_000_000)))
    max_output_chars: int = field(default_factory=lambda: int(_setting("EXPRESSION_MAX_OUTPUT_CHARS", 1_000_000)))
    max_total_size: int = field(default_factory=lambda: int(_setting("EXPRESSION_MAX_TOTAL_SIZE", 10_000_000)))
    max_loop_iterations: int = field(default_factory=lambda: int(_setting("EXPRESSION_MAX_LOOP_ITERATIONS", 100_000)))
    max_calls: int = field(default_factory=lambda: int(_setting("EXPRESSION_MAX_CALLS", 50_000)))

    loops: int = 0
    calls: int = 0
    output: int = 0
    produced: int = 0
    depth: int = 0
    interrupted: BaseException | None = None

    def __post_init__(self) -> None:
        now = time.monotonic()
        own = now + self.max_seconds
        self._by_step = self.deadline is not None and self.deadline < own
        self._deadline = min(own, self.deadline) if self.deadline is not None else own
        self._next_check = now + CHECK_EVERY_SECONDS

    # --- charging -------------------------------------------------------------------

    def tick(self) -> None:
        """Time: the deadline, and now and then the engine's cancel / time-limit check."""
        now = time.monotonic()
        if now > self._deadline:
            if self._by_step:
                raise LimitError("the template was still rendering at its step's deadline")
            raise LimitError(f"the template took longer than {self.max_seconds:g} seconds to render (EXPRESSION_MAX_SECONDS)")
        if self.check is not None and now >= self._next_check:
            self._next_check = now + CHECK_EVERY_SECONDS
            try:
                self.check()
            except BaseException as exc:
                self.interrupted = exc  # not an expression error: the caller must see it as is
                raise

    def loop(self, n: int = 1) -> None:
        self.loops += n
        if self.loops > self.max_loop_iterations:
            raise LimitError(f"more than {self.max_loop_iterations:,} loop iterations in one render (EXPRESSION_MAX_LOOP_ITERATIONS)")
        self.tick()

    def call(self, weight: int = 1) -> None:
        self.calls += weight
        if self.calls > self.max_calls:
            raise LimitError(f"more than {self.max_calls:,} calls in one render, a macro call counting 10 (EXPRESSION_MAX_CALLS)")
        self.tick()

    def produce(self, size: int) -> None:
        """A new value or text of `size` items/characters was made."""
        self.produced += size
        if self.produced > self.max_total_size:
            raise LimitError(f"the render made more than {self.max_total_size:,} characters and items in all (EXPRESSION_MAX_TOTAL_SIZE)")

    def emit(self, size: int) -> None:
        """`size` characters of the template's final text."""
        self.output += size
        if self.output > self.max_output_chars:
            raise LimitError(f"the rendered text is longer than {self.max_output_chars:,} characters (EXPRESSION_MAX_OUTPUT_CHARS)")

    def allow(self, size: int, what: str) -> int:
        """Refuse, before it is made, a value larger than the limit; count it otherwise."""
        if size > self.max_value_size:
            raise LimitError(f"{what} would be larger than {self.max_value_size:,} characters or items (EXPRESSION_MAX_VALUE_SIZE)")
        return size

    def measure(self, value: Any) -> int:
        """The logical size of `value`, counted only as far as just past the limit."""
        return measure(value, self.max_value_size, self.tick)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            raise LimitError(f"macros or recursive loops nested deeper than {MAX_CALL_DEPTH} calls")

    def leave(self) -> None:
        self.depth -= 1


_CURRENT: ContextVar[Budget | None] = ContextVar("circuitos_expression_budget", default=None)


def current() -> Budget:
    budget = _CURRENT.get()
    if budget is None:
        # Only render_value/evaluate run templates; anything else (a compile-time constant
        # evaluation, say) gets no budget and therefore runs nothing.
        raise ExpressionError("templates only run through render_value / evaluate")
    return budget


def activate(budget: Budget):
    return _CURRENT.set(budget)


def deactivate(token) -> None:
    _CURRENT.reset(token)


class MethodValue:
    """Marks objects that are methods of a value (`'…'.format` as the sandbox hands it out)."""

    __slots__ = ()


_METHODS = (types.BuiltinMethodType, types.MethodType, MethodValue)
_NOT_VALUES = (Undefined, *_METHODS)


def _not_a_value(item: Any) -> None:
    if isinstance(item, Undefined):
        str(item)  # raises: an undefined value (or one the sandbox refused) inside a list or dict
    if isinstance(item, _METHODS):
        # Printing it would show the interpreter's own object (and its address): call it instead.
        raise ExpressionError(f"{getattr(item, '__name__', 'format')!r} is a method, not a value: call it, e.g. x.upper()")


_SCALARS = frozenset({int, float, bool, type(None)})
_FLAT = _SCALARS | {str}
_DICT_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))
_TICK_EVERY = 1024  # containers between two time checks of a long walk


def _children(items: Any) -> tuple[int, list]:
    """(characters of the strings among `items` + one per item, the containers among them)."""
    size = len(items)
    if size > 16:
        kinds = set(map(type, items))  # at C speed: a flat list needs no Python-level walk
        if kinds <= _SCALARS:
            return size, []
        if kinds == {str}:
            return size + sum(map(len, items)), []
        if kinds <= _FLAT:
            return size + sum(len(i) for i in items if type(i) is str), []
    nested = []
    for item in items:
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, _NOT_VALUES):
            _not_a_value(item)
        elif not isinstance(item, int | float | type(None)):
            nested.append(item)
    return size, nested


def _expand(value: Any) -> tuple[int, list]:
    if isinstance(value, list | tuple):
        return _children(value)
    if isinstance(value, dict):
        keys, nested_keys = _children(list(value))
        values, nested_values = _children(list(value.values()))
        return keys + values, nested_keys + nested_values
    if isinstance(value, Namespace):
        return 0, [object.__getattribute__(value, "_Namespace__attrs")]
    if isinstance(value, _DICT_VIEWS):
        return 0, [value.mapping]
    if isinstance(value, range):
        return len(value), []
    _not_a_value(value)
    return 0, []


def measure(value: Any, limit: int, tick: Callable[[], None] | None = None) -> int:
    """Characters of strings plus one per list/tuple item and two per dict entry, recursively,
    each shared reference counted again.

    Every distinct container is expanded once (sizes are memoized by identity; everything
    stays alive during the walk), so `[x, x]` nested forty times costs forty steps, not 2**40;
    a cycle (a namespace holding itself) counts as infinitely large, and nesting deeper than
    MAX_NESTING is refused. The walk stops as soon as
    the count passes `limit`, and calls `tick` now and then so a long walk still meets its
    deadline.
    """
    if isinstance(value, str):
        return len(value)
    own, nested = _expand(value)
    if not nested or own > limit:
        return own
    sizes: dict[int, int | None] = {id(value): None}  # None: being counted (a cycle if met again)
    stack: list[list] = [[value, nested, 0, own]]
    expanded = 0
    while stack:
        frame = stack[-1]
        parent, children, index, total = frame
        if index == len(children):
            stack.pop()
            sizes[id(parent)] = total
            if not stack:
                return total
            stack[-1][3] += total
            if stack[-1][3] > limit:
                return stack[-1][3]
            continue
        frame[2] = index + 1
        child = children[index]
        known = sizes.get(id(child), -1)
        if known is None:
            return limit + 1
        if known >= 0:
            frame[3] += known
        else:
            child_own, child_nested = _expand(child)
            expanded += 1
            if tick is not None and expanded % _TICK_EVERY == 0:
                tick()
            if child_nested:
                if len(stack) >= MAX_NESTING:
                    raise LimitError(f"a value nested deeper than {MAX_NESTING} levels")
                sizes[id(child)] = None
                stack.append([child, child_nested, 0, child_own])
            else:
                sizes[id(child)] = child_own
                frame[3] += child_own
        if frame[3] > limit:
            return frame[3]
    return own
