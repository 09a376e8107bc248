"""The API's one request format: JSON, size-limited, with errors that say where.

DRF's JSONParser reads the request stream directly (Django's DATA_UPLOAD_MAX_MEMORY_SIZE
does not apply to it), so the limit is enforced here, before and while reading. Values
the database cannot store are refused as bad input instead of failing on save: NaN and
infinite numbers, NUL characters and lone surrogates in text.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from rest_framework.parsers import BaseParser

from circuits.api.exceptions import MalformedJSON, PayloadTooLarge

DEFAULT_MAX_BODY_BYTES = 1_048_576


def max_body_bytes() -> int:
    return int(getattr(settings, "API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:30]} is too large")
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _check_text(value: str, where: str) -> None:
    if "\x00" in value:
        raise MalformedJSON(f"Text at {where} contains a NUL character (\\u0000), which cannot be stored.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedJSON(f"Text at {where} contains a lone surrogate escape, which is not valid Unicode.") from None


def check_storable(data: Any) -> None:
    """Walk the decoded document (iteratively: depth is bounded by the decoder already)."""
    stack: list[tuple[Any, str]] = [(data, "$")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, where)
                stack.append((item, f"{where}.{key}"))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{index}]") for index, item in enumerate(value))


class LimitedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        limit = max_body_bytes()
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The body is {int(declared)} bytes; the API accepts at most {limit}.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The body is larger than the {limit} bytes the API accepts.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            position = getattr(exc, "start", None)
            raise MalformedJSON(f"The body is not valid {encoding} text" + (f" (byte {position})." if position is not None else ".")) from None
        try:
            data = json.loads(text, parse_float=_finite, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise MalformedJSON(f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.", exc.lineno, exc.colno) from None
        except RecursionError:
            raise MalformedJSON("The JSON is nested too deeply.") from None
        except ValueError as exc:  # our number checks, or an integer with too many digits
            raise MalformedJSON(f"Malformed JSON: {exc}.") from None
        check_storable(data)
        return data
