"""Small helpers the notify actions share."""

from __future__ import annotations

from typing import Any

from actions.sdk import ActionError


def split_names(text: str) -> list[str]:
    """Split "a@x.test, \"Doe, Jo\" <jo@x.test>; b" on commas/semicolons outside quotes and <…>."""
    parts, current, quoted, angled = [], [], False, False
    for ch in text:
        if ch == '"' and not angled:
            quoted = not quoted
        elif ch == "<" and not quoted:
            angled = True
        elif ch == ">" and not quoted:
            angled = False
        elif ch in ",;" and not quoted and not angled:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def string_list(value: Any, field: str) -> list[str]:
    """A rendered list-or-string config value as a list of non-empty strings.

    A string (what a template like "{{ trigger.email }}" often renders to) is split on
    commas and semicolons, so "a@x.test, b@x.test" works as well as a real list. A list
    item that rendered to a list (["{{ trigger.emails }}"]) is taken apart too.
    """
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = split_names(value)
    elif isinstance(value, list | tuple):
        items = []
        for item in value:
            items += list(item) if isinstance(item, list | tuple) else [item]
    else:
        raise ActionError(f"{field}: expected a list of strings, got {type(value).__name__}")
    result = []
    for item in items:
        if not isinstance(item, str):
            raise ActionError(f"{field}: expected a list of strings, got an item of type {type(item).__name__}")
        if item.strip():
            result.append(item.strip())
    return result
