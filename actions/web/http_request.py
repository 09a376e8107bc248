"""web.http_request — call any HTTP API through the outbound guard."""

from __future__ import annotations

import base64
import json
from typing import Any

from actions.net import display_url, guarded_request
from actions.sdk import Action, ActionError, ConfigError, Context, is_template, register

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
AUTH_KINDS = ("http_basic", "http_bearer", "http_header")
_SCALAR = {"type": ["string", "number", "integer", "boolean", "null"]}
EXCERPT_CHARS = 500


def check_http_url(field: str, value: Any) -> list[str]:
    """Save-time check of a URL field; templated values are checked when they run."""
    if not isinstance(value, str) or is_template(value):
        return []
    if not value.strip().lower().startswith(("http://", "https://")):
        return [f"{field}: must be an http:// or https:// URL"]
    return []


def validated(action: type[Action], config: dict) -> dict:
    """Check the rendered config again: templates may have produced wrong types or values."""
    errors = action.validate_config(config)
    if errors:
        raise ConfigError("; ".join(errors))
    return config


@register
class HttpRequest(Action):
    name = "web.http_request"
    category = "web"
    label = "HTTP Request"
    description = (
        "Call an HTTP API or web page and use the response. Private and internal addresses are refused unless the tenant's outbound allow-list names them."
    )
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "method": {"title": "Method", "description": "The HTTP method.", "enum": list(METHODS), "default": "GET"},
            "url": {"title": "URL", "description": "The http:// or https:// address to call.", "type": "string", "minLength": 1},
            "query": {
                "title": "Query parameters",
                "description": "Added to the URL's query string; a list value repeats the parameter.",
                "type": "object",
                "additionalProperties": {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]},
                "default": {},
            },
            "headers": {
                "title": "Headers",
                "description": "Request headers (name → value). Put secrets in a credential instead (see Authentication).",
                "type": "object",
                "additionalProperties": {"type": "string"},
                "default": {},
            },
            "body_type": {
                "title": "Body type",
                "description": "How to send the body: none, json (any JSON value), form (an object of fields, URL-encoded) or raw (text as is).",
                "enum": ["none", "json", "form", "raw"],
                "default": "none",
            },
            "body": {"title": "Body", "description": "The request body, sent as the body type says."},
            "auth": {
                "title": "Authentication",
                "description": "Name of a credential of kind http_basic, http_bearer or http_header to authenticate with.",
                "type": "string",
            },
            "timeout_seconds": {
                "title": "Timeout (seconds)",
                "description": "Give up after this long (never past the step's own deadline).",
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 300,
                "default": 30,
            },
            "fail_on_status": {
                "title": "Fail on error status",
                "description": "Treat a 4xx/5xx response as a failure (with the status and an excerpt of the body).",
                "type": "boolean",
                "default": True,
            },
            "response_type": {
                "title": "Response type",
                "description": "auto parses JSON responses and keeps anything else as text; json requires JSON; text never parses.",
                "enum": ["auto", "json", "text"],
                "default": "auto",
            },
            "follow_redirects": {
                "title": "Follow redirects",
                "description": "Follow 3xx redirects (each hop is checked against the outbound rules).",
                "type": "boolean",
                "default": True,
            },
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "status": {"type": "integer", "description": "The HTTP status code."},
            "headers": {"type": "object", "description": "Response headers, lower-case names."},
            "body": {"description": "Parsed JSON when the response is JSON (or response_type is json), else text; null for HEAD."},
            "url": {"type": "string", "description": "The final URL, after redirects."},
            "elapsed_ms": {"type": "integer", "description": "How long the request took."},
        },
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        errors = check_http_url("url", config.get("url"))
        body_type = config.get("body_type", "none")
        body = config.get("body")
        if body is not None and body_type == "none":
            errors.append("body: set body_type to json, form or raw to send a body")
        if body_type == "form" and body is not None and not isinstance(body, dict) and not is_template(body):
            errors.append("body: a form body must be an object of fields")
        if body_type == "raw" and body is not None and not isinstance(body, str):
            errors.append("body: a raw body must be text")
        return errors

    def run(self, ctx: Context, config: dict) -> dict:
        config = validated(type(self), config)
        method = config.get("method", "GET")
        url = config["url"]
        headers = dict(config.get("headers") or {})
        secret_headers = _apply_auth(ctx, config.get("auth"), headers)
        body_type = config.get("body_type", "none")
        body = config.get("body")
        payload: dict[str, Any] = {}
        if body_type == "json" and body is not None:
            payload["json"] = body
        elif body_type == "form" and body is not None:
            payload["data"] = {key: _form_value(value) for key, value in body.items()}
        elif body_type == "raw" and body is not None:
            payload["content"] = body.encode()
        timeout = ctx.time_left(float(config.get("timeout_seconds", 30)))

        response = guarded_request(
            ctx.tenant,
            method,
            url,
            headers=headers,
            params=config.get("query") or None,
            timeout=timeout,
            follow_redirects=config.get("follow_redirects", True),
            secret_headers=secret_headers,
            # Safe methods change nothing: only the others need the far side to spot a repeat.
            idempotency_key=ctx.idempotency_key if method not in ("GET", "HEAD") else None,
            **payload,
        )
        # Only the method, a safe form of the URL and the outcome: never headers (they may hold secrets).
        ctx.log(f"{method} {display_url(response.url)} → {response.status_code} in {response.elapsed_ms} ms")

        if config.get("fail_on_status", True) and response.status_code >= 400:
            excerpt = " ".join(response.text[:EXCERPT_CHARS].split())
            reason = f" {response.reason_phrase}" if response.reason_phrase else ""
            raise ActionError(f"HTTP {response.status_code}{reason} from {method} {display_url(response.url)}" + (f": {excerpt}" if excerpt else ""))

        return {
            "status": response.status_code,
            "headers": {name.lower(): value for name, value in response.headers.items()},
            "body": _parse_body(response, method, config.get("response_type", "auto")),
            "url": response.url,
            "elapsed_ms": response.elapsed_ms,
        }


def _form_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_form_value(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return "" if value is None else str(value)


def _apply_auth(ctx: Context, name: str | None, headers: dict) -> list[str]:
    """Add the credential's header; return the names of headers that carry secrets."""
    if not name:
        return []
    secret = ctx.credential(name, AUTH_KINDS)
    if "username" in secret:  # http_basic
        token = base64.b64encode(f"{secret['username']}:{secret['password']}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
        return ["Authorization"]
    if "token" in secret:  # http_bearer
        headers["Authorization"] = f"Bearer {secret['token']}"
        return ["Authorization"]
    header = str(secret["header"])  # http_header
    for existing in [h for h in headers if h.lower() == header.lower()]:
        del headers[existing]
    headers[header] = str(secret["value"])
    return [header]


def _parse_body(response: Any, method: str, response_type: str) -> Any:
    if method == "HEAD":
        return None
    if response_type == "text":
        return response.text
    if response_type == "json" or response.is_json:
        if response_type == "auto" and not response.content.strip():
            return None  # e.g. 204 No Content with a JSON content type
        try:
            return response.json()
        except ActionError:
            if response_type == "json":
                excerpt = " ".join(response.text[:200].split())
                raise ActionError(f"the response from {display_url(response.url)} is not valid JSON: {excerpt}") from None
            return response.text
    return response.text
