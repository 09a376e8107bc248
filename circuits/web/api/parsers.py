"""The API's one request format: JSON, size-limited, with errors that say where.

DRF's JSONParser reads the request stream directly (Django's DATA_UPLOAD_MAX_MEMORY_SIZE
does not apply to it), so the limit is enforced here, before and while reading (the ASGI
layer already capped the body at MAX_REQUEST_BODY_BYTES as it arrived, chunked or not).
The document is decoded by `circuits.core.strict_json`, the reader every JSON input of
Circuit OS goes through: values the database cannot store or Python cannot handle are
refused as bad input instead of failing on save — NaN and infinite numbers, numbers of
more than JSON_MAX_NUMBER_DIGITS digits, NUL characters and lone surrogates in text and
keys, nesting deeper than JSON_MAX_DEPTH.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.parsers import BaseParser

from circuits.core import strict_json
from circuits.web.api.exceptions import MalformedJSON, PayloadTooLarge

DEFAULT_MAX_BODY_BYTES = 1_048_576


def max_body_bytes() -> int:
    return int(getattr(settings, "API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


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
            return strict_json.loads(text)
        except strict_json.JSONRefused as exc:
            raise MalformedJSON(exc.detail, exc.line, exc.column) from None
