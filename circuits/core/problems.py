"""Problem answers (RFC 9457, application/problem+json) outside DRF: webhooks, the ASGI layer.

The body has the shape of the API's (`circuits.web.api.exceptions.problem`), so a client reads
a refused webhook, a refused body and a refused API call the same way.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import JsonResponse

from circuits.web.api.exceptions import PROBLEM_CONTENT_TYPE, problem


def problem_response(status: int, detail: str, *, code: str = "", title: str = "", **extra: Any) -> JsonResponse:
    return JsonResponse(problem(status, detail, code=code, title=title, **extra), status=status, content_type=PROBLEM_CONTENT_TYPE)


def problem_bytes(status: int, detail: str, *, code: str = "", title: str = "", **extra: Any) -> bytes:
    return json.dumps(problem(status, detail, code=code, title=title, **extra)).encode()
