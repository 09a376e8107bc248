"""One error format for every API answer: RFC 9457 problem details (application/problem+json).

    {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "…"}
    {"type": "urn:circuitos:problem:validation", "title": "Invalid input", "status": 400,
     "detail": "name: This field is required.", "errors": {"name": ["This field is required."]}}

Django's ValidationError / PermissionDenied / DoesNotExist raised by the services are
translated here, so views stay thin; anything unexpected becomes a logged 500 problem.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from circuits.automation.services.versions import Conflict, GraphInvalid
from circuits.core.problems import PROBLEM_CONTENT_TYPE, problem

log = logging.getLogger(__name__)


class BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request cannot be processed."
    default_code = "bad_request"


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource changed since you read it."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class MalformedJSON(exceptions.ParseError):
    """Malformed JSON with where it went wrong (line and column, 1-based)."""

    def __init__(self, detail: str, line: int | None = None, column: int | None = None):
        super().__init__(detail)
        self.line, self.column = line, column


class GraphInvalidError(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "graph_invalid"

    def __init__(self, graph_errors: list[dict]):
        super().__init__("The circuit's graph is invalid: " + "; ".join(e["message"] for e in graph_errors[:5]))
        self.graph_errors = graph_errors


def _messages(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [f"{k}: {m}" for k, v in value.items() for m in _messages(v)]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _messages(item)]
    return [str(value)]


def field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """{field: [messages]} with nested serializer errors flattened to dotted names."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                out.update(field_errors(value, name))
            elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                for index, item in enumerate(value):
                    if item:
                        out.update(field_errors(item, f"{name}[{index}]") if isinstance(item, dict) else {f"{name}[{index}]": _messages(item)})
            else:
                out[name] = _messages(value)
    elif detail:
        out[prefix or "non_field_errors"] = _messages(detail)
    return out


def _from_django(exc: Exception) -> exceptions.APIException | None:
    if isinstance(exc, GraphInvalid):
        return GraphInvalidError(exc.graph_errors)
    if isinstance(exc, Conflict):
        return ConflictError(" ".join(exc.messages))
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    if isinstance(exc, ObjectDoesNotExist):
        return exceptions.NotFound(str(exc) or "Not found.")
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    return None


def problem_response(status_code: int, detail: str, **kwargs: Any) -> Response:
    response = Response(problem(status_code, detail, **kwargs), status=status_code)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_exception_handler(exc: Exception, context: dict) -> Response:
    # Imported here: rest_framework.views imports the permission classes, which import this module.
    from rest_framework.views import exception_handler, set_rollback

    translated = _from_django(exc)
    if translated is not None:
        exc = translated
    response = exception_handler(exc, context)  # sets WWW-Authenticate, Retry-After and the rollback
    if response is None:
        view = context.get("view")
        log.error("unhandled error in %s", type(view).__name__ if view else "the API", exc_info=exc)
        set_rollback()
        return problem_response(500, "Something went wrong on our side; it has been logged.")
    assert isinstance(exc, exceptions.APIException)
    code = exc.get_codes() if not isinstance(exc, exceptions.ValidationError) else "invalid"
    code = code if isinstance(code, str) else "invalid"
    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        errors = field_errors(exc.detail)
        non_field = errors.pop("non_field_errors", [])
        parts = [*non_field, *(f"{name}: {' '.join(messages)}" for name, messages in errors.items())]
        detail = " ".join(p if p.endswith(".") else p + "." for p in parts) or "Invalid input."
        title = "Invalid input"
        extra["errors"] = errors or None
    else:
        detail = " ".join(_messages(exc.detail))
        title = ""
    if isinstance(exc, GraphInvalidError):
        title = "Invalid graph"
        extra["graph_errors"] = exc.graph_errors
    if isinstance(exc, MalformedJSON):
        title, extra["line"], extra["column"] = "Malformed JSON", exc.line, exc.column
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        extra["retry_after"] = int(exc.wait) + (0 if float(exc.wait).is_integer() else 1)
    response.data = problem(response.status_code, detail, code=code, title=title, **extra)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response
