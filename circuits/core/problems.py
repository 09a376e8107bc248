"""Problem answers (RFC 9457, application/problem+json): one body for the API, webhooks and the ASGI layer.

    {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "…"}
    {"type": "urn:circuitos:problem:validation", "title": "Invalid input", "status": 400, "detail": "…", "errors": {…}}

The API's exception handler (`circuits.web.api.exceptions`) builds its answers with
`problem()` too, so a client reads a refused webhook, a refused body and a refused API call
the same way.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.http import JsonResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:circuitos:problem:"

# Problem "type" for the errors whose meaning goes beyond the HTTP status.
_TYPES = {
    "invalid": "validation",
    "parse_error": "malformed-json",
    "conflict": "conflict",
    "graph_invalid": "graph-invalid",
    "throttled": "throttled",
    "payload_too_large": "payload-too-large",
    "bad_request": "bad-request",
}


def problem(status_code: int, detail: str, *, code: str = "", title: str = "", **extra: Any) -> dict:
    kind = _TYPES.get(code)
    body = {
        "type": TYPE_PREFIX + kind if kind else "about:blank",
        "title": title or HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(status: int, detail: str, *, code: str = "", title: str = "", **extra: Any) -> JsonResponse:
    return JsonResponse(problem(status, detail, code=code, title=title, **extra), status=status, content_type=PROBLEM_CONTENT_TYPE)


def problem_bytes(status: int, detail: str, *, code: str = "", title: str = "", **extra: Any) -> bytes:
    return json.dumps(problem(status, detail, code=code, title=title, **extra)).encode()
