"""OpenAPI generation: problem+json errors on every operation, the auth schemes, inbound webhooks."""

from __future__ import annotations

import inspect

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object

from circuits.core.problems import PROBLEM_CONTENT_TYPE
from circuits.web.api.serializers.common import ProblemSerializer

_COMMON_ERRORS = {
    "400": "Bad input (field errors in `errors`), malformed JSON (with line/column) or no tenant chosen.",
    "401": "No or an unknown/revoked/expired API key.",
    "403": "The role (of the key or the member) does not allow this.",
    "404": "Not found in this tenant (other tenants' objects are never revealed).",
    "429": "Too many requests for this key or tenant; see Retry-After.",
}
_BODY_ERRORS = {
    "413": "The body is larger than the API accepts.",
    "415": "The body is not JSON (send Content-Type: application/json).",
}


class ApiAutoSchema(AutoSchema):
    """Adds the problem+json error answers (and a default for any other status) to each operation."""

    def get_description(self) -> str:
        # Only a view's own docstring describes its operation (not ApiView's, inherited by all).
        doc = type(self.view).__dict__.get("__doc__")
        return inspect.cleandoc(doc) if doc else ""

    def _is_list_view(self, serializer=None) -> bool:
        # Our list endpoints are plain GenericAPIViews: a paginated GET is a list.
        if self.method == "GET" and getattr(self.view, "pagination_class", None) is not None:
            return True
        return super()._is_list_view(serializer)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if not self.path.startswith("/api/v1"):
            return responses
        errors = dict(_COMMON_ERRORS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update(_BODY_ERRORS)
        for code, description in errors.items():
            if code not in responses:
                responses[code] = self._problem(code, description)
        responses.setdefault("default", self._problem("default", "Any other error, as problem details."))
        return responses

    def _problem(self, code: str, description: str) -> dict:
        response = self._get_response_for_code(ProblemSerializer, code, media_types=[PROBLEM_CONTENT_TYPE])
        response["description"] = description
        return response


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "circuits.web.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")  # noqa: S106 - the scheme name, not a secret
        scheme["description"] = "A tenant's API key: `Authorization: Bearer cos_…` (create one with `manage.py createapikey`)."
        return scheme


class TenantSessionScheme(OpenApiAuthenticationExtension):
    target_class = "circuits.web.api.authentication.TenantSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        from django.conf import settings

        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The browser's session (unsafe methods need the X-CSRFToken header); name the tenant with X-Tenant.",
        }


_HOOK_PATH = {
    "post": {
        "operationId": "hooks_receive",
        "tags": ["webhooks"],
        "summary": "Inbound webhook of one circuit's webhook trigger",
        "description": (
            "Each webhook trigger has its own unguessable URL (`webhook_url` of the trigger). No API key: the token in the "
            "path is the secret; with `auth: hmac` each delivery must also carry `X-Circuit-Timestamp: <Unix seconds>` and "
            '`X-Circuit-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the webhook secret>`; a signature '
            "is accepted within WEBHOOK_SIGNATURE_TOLERANCE_SECONDS (300) of its timestamp and only once (a replay is 409). "
            "JSON or form bodies, read strictly: NaN/Infinity, numbers beyond 64-bit float range or 1,000 digits, NUL "
            "characters, lone surrogates and nesting deeper than 100 levels are 400; bodies above the trigger's `max_bytes` "
            "(or WEBHOOK_MAX_BODY_BYTES) are 413. A worker runs the execution. Answers 202 with the execution id and its API `url` "
            "(also `Location`) at once, or — trigger `respond: wait` — 200 with the circuit's output if it finishes within "
            "`wait_timeout_seconds`, else 202 as before while the run goes on (the wait bounds the answer, not the run)."
        ),
        "security": [],
        "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}, "description": "The trigger's webhook token."}],
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object", "additionalProperties": {}}, "example": {"email": "ada@example.com"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": {"type": "string"}}},
            }
        },
        "responses": {
            "200": {
                "description": "The circuit ran (respond: wait) and succeeded.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HookResult"}}},
            },
            "202": {
                "description": "The execution was started (or is still running when the wait ran out); follow `url`.",
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}, "description": "The execution in the REST API."}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HookResult"}}},
            },
            "default": {
                "description": "An error, as problem details.",
                "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            },
        },
    }
}
_HOOK_RESULT = {
    "type": "object",
    "properties": {
        "execution_id": {"type": "integer"},
        "status": {"type": "string"},
        "output": {"nullable": True},
        "error": {"type": "object", "nullable": True, "additionalProperties": {}},
        "url": {"type": "string", "format": "uri", "description": "202: the execution in the REST API (GET it with an API key)."},
    },
    "required": ["execution_id", "status"],
}


def postprocess(result: dict, generator, request, public) -> dict:
    """Request bodies refuse unknown fields (say so in the schema) and document /hooks/{token}."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request") and schema.get("type") == "object" and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    schemas["HookResult"] = _HOOK_RESULT
    result.setdefault("paths", {})["/hooks/{token}"] = _HOOK_PATH
    return result
