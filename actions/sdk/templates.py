"""Telling a template from a plain value: a pure string check shared by the SDK and the engine."""

from __future__ import annotations

from typing import Any


def is_template(value: Any) -> bool:
    """Is `value` a string holding a template (`{{ … }}` or `{% … %}`), rendered by the engine before `run`?"""
    return isinstance(value, str) and ("{{" in value or "{%" in value)
