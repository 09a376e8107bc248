"""The Jinja2 environment templates run in, and the code it generates.

The environment is an ImmutableSandboxedEnvironment tightened in three ways:

- *Nothing but data and reviewed helpers is reachable.* Globals are replaced by `helpers.GLOBALS`;
  attribute access is an allow-list per kind of value (a few string, list, dict and loop
  methods); every call goes through `call`, which runs helpers, macros and allow-listed methods
  and refuses everything else; `'…'.format` is a bounded, sandboxed formatter.
- *Nothing is evaluated at compile time.* The optimizer is off and the code generator never
  folds output into constants, so saving a template only parses and compiles it.
- *A missing key is empty, an unknown name is an error.* `trigger.company` on a payload
  without `company` (and `trigger.a.b.c` on one without `a`) is `MissingData`: it prints as
  nothing, is false, iterates as nothing and takes a `default`; arithmetic, ordering and calls
  on it fail with a message that says so. A name the template does not have at all
  (`trigegr`, `request`) stays an error (`StrictData`): that is a typo, not missing data.
- *Every render is bounded.* The generated code charges the current `Budget` for every loop
  iteration (each `for` iterates through `guard_iter`), every call, filter and operator, every
  list/dict literal, every `~` and every chunk of output; `+ - * / // % **` are intercepted and
  refused before they would make a value larger than the limit.
"""

from __future__ import annotations

import types
from typing import Any, NoReturn

from jinja2 import ChainableUndefined, StrictUndefined, UndefinedError, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext, Macro, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, missing
from markupsafe import Markup

from circuits.automation.engine.expressions import helpers
from circuits.automation.engine.expressions.budget import MAX_INT_BITS, Budget, LimitError, current


class StrictData(StrictUndefined):
    """A name the template does not have (`trigegr.name`, `request`): an error wherever it is
    used, though `is defined` and `default` still work."""


_MISSING_HINT = (
    "a missing value is empty and false; it cannot be used in arithmetic, compared with < or >, or called: give it a default, e.g. (x or 0), x | default(0)"
)


class MissingData(ChainableUndefined):
    """A key, attribute or item the data does not have (see docs/expressions.md).

    Empty when printed (and JSON null as a single expression's value), false, iterates as
    nothing, `is defined` is false and `default` replaces it; reading further into it
    (`trigger.a.b.c`) gives the same missing value. Arithmetic, `< <= > >=`, unary signs and
    calls still fail: a silent 0 or a silently skipped call would hide a broken circuit.

    Jinja creates every undefined through this one class; an unknown *name* (no hint, no object
    it was read from) becomes StrictData instead, so a typo in a variable name stays an error.
    """

    __slots__ = ()

    def __new__(cls, hint: str | None = None, obj: Any = missing, name: str | None = None, exc: type = UndefinedError) -> Undefined:
        if hint is None and obj is missing:
            return StrictData(hint, obj, name, exc)
        return super().__new__(cls)

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            what = self._undefined_hint
        elif isinstance(self._undefined_obj, dict) and isinstance(self._undefined_name, str):
            what = f"the key {self._undefined_name!r} is missing"
        elif isinstance(self._undefined_obj, list | tuple | str) and isinstance(self._undefined_name, int):
            what = f"there is no item {self._undefined_name} (the value has {len(self._undefined_obj)})"
        elif isinstance(self._undefined_obj, Undefined):
            what = self._undefined_obj._undefined_message
        else:
            what = f"{self._undefined_name!r} is missing"
        return f"{what}: {_MISSING_HINT}"

    def __repr__(self) -> str:
        return "None"  # inside a printed list or dict a missing value shows as what it is stored as

    # Python would report these as a bare TypeError naming this class; say what is wrong instead.
    __abs__ = __round__ = __trunc__ = __floor__ = __ceil__ = __index__ = Undefined._fail_with_undefined_error


@pass_context
def _finalize(context, value: Any) -> str:
    # Needing the context also tells Jinja's code generator it cannot finalize at compile time.
    return helpers.to_text(value)


class BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with budget hooks and without compile-time evaluation."""

    _emitter = "emit"

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        saved = self._emitter
        # Text that goes straight out counts as output; text into a buffer (macros, `set`
        # blocks, filter blocks) counts only as work.
        self._emitter = "emit" if frame.buffer is None else "emit_buffered"
        try:
            super().visit_Output(node, frame)
        finally:
            self._emitter = saved

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize) -> str:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()  # never run an expression while compiling
        return super()._output_child_to_const(node, frame, finalize)

    def _output_const_repr(self, group) -> str:
        return f"environment.{self._emitter}({super()._output_const_repr(group)})"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize) -> None:
        self.write(f"environment.{self._emitter}(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize) -> None:
        super()._output_child_post(node, frame, finalize)
        self.write(")")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def _literal(self, visit, node, frame: Frame) -> None:
        self.write("environment.literal(")
        visit(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._literal(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._literal(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # an assignment target (`for a, b in …`), not a value
            super().visit_Tuple(node, frame)
        else:
            self._literal(super().visit_Tuple, node, frame)


def _guard_iter(iterable: Any):
    budget = current()
    for item in iterable:
        budget.loop()
        yield item


# --- operators ----------------------------------------------------------------------


def _bits(value: int) -> int:
    return value.bit_length()


def _both_int(left: Any, right: Any) -> bool:
    return isinstance(left, int) and isinstance(right, int)


def _int_limit(bits: int, op: str) -> None:
    if bits > MAX_INT_BITS:
        raise LimitError(f"the result of '{op}' would be larger than {MAX_INT_BITS:,} bits")


def _escape_factor(*values: Any) -> int:
    return 6 if any(isinstance(v, Markup) for v in values) else 1


def _check_add(budget: Budget, left: Any, right: Any) -> None:
    if _both_int(left, right):
        _int_limit(max(_bits(left), _bits(right)) + 1, "+")
    elif isinstance(left, str) and isinstance(right, str):
        size = budget.allow(len(left) + len(right) * _escape_factor(left, right), "the text made by '+'")
        budget.produce(size)
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        budget.allow(budget.measure(left) + budget.measure(right), "the list made by '+'")
        budget.produce(len(left) + len(right))


def _check_sub(budget: Budget, left: Any, right: Any) -> None:
    if _both_int(left, right):
        _int_limit(max(_bits(left), _bits(right)) + 1, "-")


def _check_mul(budget: Budget, left: Any, right: Any) -> None:
    if _both_int(left, right):
        _int_limit(_bits(left) + _bits(right), "*")
        return
    if isinstance(left, int) and isinstance(right, str | list | tuple):
        left, right = right, left
    if isinstance(left, str | list | tuple) and isinstance(right, int) and right > 0:
        size = len(left) if isinstance(left, str) else budget.measure(left)
        budget.allow(size * right, f"the {'text' if isinstance(left, str) else 'list'} made by '*'")
        budget.produce(len(left) * right)


def _check_pow(budget: Budget, left: Any, right: Any) -> None:
    if _both_int(left, right) and right > 0 and abs(left) > 1:
        if right > MAX_INT_BITS:
            _int_limit(right, "**")
        _int_limit(_bits(left) * right, "**")


def _check_mod(budget: Budget, left: Any, right: Any) -> None:
    if isinstance(left, str):
        helpers.check_percent(left, right)


_BINOP_CHECKS = {"+": _check_add, "-": _check_sub, "*": _check_mul, "**": _check_pow, "%": _check_mod}


# --- the environment ----------------------------------------------------------------------


_DIRECT = (helpers.Helper, helpers.BoundFormat)
_NESTED = (Macro, LoopContext)
_METHODS = (types.BuiltinMethodType, types.MethodType)
# A macro call (or `caller()`, or a recursive `loop()`) does several times the work of a filter
# call, and is what recursion is made of: it counts as this many calls.
MACRO_CALL_WEIGHT = 10


class Sandbox(ImmutableSandboxedEnvironment):
    code_generator_class = BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self) -> None:
        super().__init__(
            undefined=MissingData,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            optimized=False,  # no constant folding of untrusted templates
            finalize=_finalize,
            cache_size=0,
        )
        self.globals.clear()
        self.globals.update(helpers.GLOBALS)
        self.filters = helpers.build_filters()
        self.tests = helpers.build_tests()
        self.guard_iter = helpers.Helper("for", _guard_iter)

    # --- attributes ----------------------------------------------------------

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Dict keys win over dict methods: `trigger.items` is the payload's `items`; and on a
        # dict, a name that is neither a key nor an allowed method is a missing key.
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        if attribute.startswith("_"):
            # Never missing data: `'{0.__class__}'.format(x)` built at run time is refused.
            self.unsafe_undefined(obj, attribute)
        if isinstance(obj, dict) and attribute not in helpers.DICT_METHODS:
            return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        # `d['x']` reads a key, never a method: a missing key is missing data.
        if isinstance(argument, str) and not (isinstance(obj, dict) and argument in obj):
            if argument.startswith("_"):
                self.unsafe_undefined(obj, argument)
            if isinstance(obj, dict):
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
        # Jinja hands back an undefined for a refused attribute; a lenient one would print as
        # nothing and hide the refusal, so it is refused here and now.
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__!r} value is not allowed")

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_"):
            return False
        if isinstance(obj, Undefined):
            return value is obj  # reading into a missing value gives the same missing value, nothing else
        if isinstance(obj, str):
            return attr in helpers.STR_METHODS
        if isinstance(obj, dict):
            return attr in helpers.DICT_METHODS
        if isinstance(obj, tuple) and attr in getattr(type(obj), "_fields", ()):
            return True  # a named tuple's fields (`groupby` gives grouper and list)
        if isinstance(obj, list | tuple):
            return attr in helpers.LIST_METHODS
        if isinstance(obj, Namespace):
            return True  # only holds what the template put there
        if isinstance(obj, LoopContext):
            return attr in helpers.LOOP_ATTRIBUTES
        return False

    def is_safe_callable(self, obj: Any) -> bool:
        return False  # `call` below decides; nothing else may call

    def wrap_str_format(self, value: Any) -> helpers.BoundFormat | None:
        if isinstance(value, types.MethodType | types.BuiltinMethodType) and value.__name__ in ("format", "format_map"):
            owner = getattr(value, "__self__", None)
            if isinstance(owner, str):
                return helpers.BoundFormat(self, owner, value.__name__ == "format_map")
        return None

    # --- calls ---------------------------------------------------------------

    def call(__self, __context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        obj = __obj
        nested = isinstance(obj, _NESTED)
        budget.call(MACRO_CALL_WEIGHT if nested else 1)
        kwargs.pop("_loop_vars", None)
        kwargs.pop("_block_vars", None)
        if isinstance(obj, _DIRECT):
            return obj(*args, **kwargs)
        if nested:
            if isinstance(obj, LoopContext):  # `loop(children)` in a recursive loop
                if kwargs or len(args) != 1:
                    raise TypeError("loop() takes exactly one argument")
                args = (_guard_iter(args[0]),)
            budget.enter()
            try:
                return obj(*args, **kwargs)
            finally:
                budget.leave()
        if isinstance(obj, Undefined):
            return obj(*args, **kwargs)  # raises: what was called is undefined
        if isinstance(obj, _METHODS):
            owner, name = getattr(obj, "__self__", None), obj.__name__
            if isinstance(owner, str):
                if name in ("format", "format_map"):
                    return helpers.BoundFormat(__self, owner, name == "format_map")(*args, **kwargs)
                if name in helpers.STR_METHODS:
                    return helpers.call_str_method(owner, name, obj, args, kwargs)
            elif (
                (isinstance(owner, dict) and name in helpers.DICT_METHODS)
                or (isinstance(owner, list | tuple) and name in helpers.LIST_METHODS)
                or (isinstance(owner, LoopContext) and name in helpers.LOOP_METHODS)
            ):
                return obj(*args, **kwargs)
        raise SecurityError(f"a {type(obj).__name__!r} object cannot be called in templates")

    # --- operators -----------------------------------------------------------

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        budget = current()
        budget.tick()
        check = _BINOP_CHECKS.get(operator)
        if check is not None:
            check(budget, left, right)
        return self.binop_table[operator](left, right)

    def call_unop(self, context, operator: str, arg: Any) -> Any:
        current().tick()
        return self.unop_table[operator](arg)

    # --- hooks of the generated code -------------------------------------------

    def emit(self, text: str) -> str:
        budget = current()
        budget.emit(len(text))
        budget.produce(len(text))
        budget.tick()
        return text

    def emit_buffered(self, text: str) -> str:
        budget = current()
        budget.produce(len(text))
        budget.tick()
        return text

    def concat(self, parts) -> str:
        # Both `a ~ b` and the generated code's joins of buffers (macros, `set` blocks) come here.
        budget = current()
        texts = [helpers.to_text(part) for part in parts]
        size = budget.allow(sum(map(len, texts)), "the joined text")
        budget.produce(size)
        return "".join(texts)

    def literal(self, value: Any) -> Any:
        budget = current()
        budget.allow(budget.measure(value), "this list or dict")
        budget.produce(len(value))
        return value
