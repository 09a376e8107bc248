"""Numbers from untrusted input (query strings, forms, JSON): finite, in range, whole when asked.

`float("nan")`, `float("inf")` and `float("1e999")` all succeed, and a NaN passes every
`<`/`>` range check (every comparison with it is false) — then breaks a timedelta, a
PostgreSQL JSON column or a time budget deep inside. Every numeric parameter goes through
`finite_number`, whose ValueError says what is wrong so the caller can name the field.
"""

from __future__ import annotations

import math
from typing import Any

MAX_TEXT_LENGTH = 100  # no number anyone types is longer; a 5,000-digit one is refused, not parsed


def finite_number(raw: Any, *, integer: bool = False, minimum: float | None = None, maximum: float | None = None) -> int | float:
    """`raw` (text or a JSON number) as a finite int/float within [minimum, maximum]; ValueError otherwise."""
    if isinstance(raw, bool):
        raise ValueError("must be a number, not true or false")
    if isinstance(raw, int | float):
        value: int | float = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if not text or len(text) > MAX_TEXT_LENGTH:
            raise ValueError(f"{raw[:MAX_TEXT_LENGTH]!r} is not a number")
        # Python's int() and float() also read "1_0" as 10 and Arabic-Indic or full-width
        # digits as numbers: no other parser a caller compares with does, so neither do we.
        if "_" in text or not text.isascii():
            raise ValueError(f"{raw!r} is not a number (plain ASCII digits)")
        try:
            value = int(text)  # exact for whole numbers of any size float would round
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{raw!r} is not a number") from None
    else:
        raise ValueError(f"must be a number, not {type(raw).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number (not NaN or infinity)")
        if integer:
            if not value.is_integer():
                raise ValueError("must be a whole number")
            value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"must be at least {_show(minimum)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"must be at most {_show(maximum)}")
    return value


def _show(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def is_id(text: object) -> bool:
    """Whether `text` is a database id: ASCII digits only, at most 18 of them.

    `str.isdigit()` is true for "²" and other digits `int()` refuses (a 500), and a
    5,000-digit string is too long for `int()` and for a bigint column.
    """
    return isinstance(text, str) and 0 < len(text) <= 18 and text.isascii() and text.isdigit()
