"""Send Slack Message: posts to a Slack incoming webhook kept in a `slack_webhook` credential.

The webhook URL is itself the secret (anyone holding it can post to the channel), so it
never appears in logs, outputs or error messages: errors from the outbound guard are
scrubbed of it before they are shown.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from actions.net import OutboundError, allowlisted, guarded_request
from actions.redact import redact
from actions.sdk import Action, ActionError, Context, is_template, register
from circuits.tenancy.models.access import CredentialKind

TEXT_MAX = 40_000  # Slack truncates messages past this
BLOCKS_MAX = 50  # Slack's limit for one message
DEFAULT_TIMEOUT = 10.0
RESPONSE_MAX_BYTES = 100_000  # Slack answers "ok" or a short error code


@register
class SendSlackMessage(Action):
    name = "notify.slack"
    category = "notify"
    label = "Send Slack Message"
    description = "Posts a message to a Slack channel through an incoming webhook."
    schema = {
        "type": "object",
        "required": ["credential"],
        "properties": {
            "credential": {
                "type": "string",
                "minLength": 1,
                "pattern": "^[-a-zA-Z0-9_]+$",
                "title": "Slack webhook",
                "description": "The name of a Slack webhook credential (its secret is the incoming-webhook URL).",
            },
            "text": {
                "type": "string",
                "maxLength": TEXT_MAX,
                "title": "Text",
                "description": "The message (Slack mrkdwn). Required unless Blocks are given; with blocks it is the notification text.",
            },
            "blocks": {
                "type": ["array", "string"],
                "items": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
                "maxItems": BLOCKS_MAX,
                "title": "Blocks",
                "description": "Block Kit layout blocks (a list of objects), or an expression that gives one: {{ steps.build.output.blocks }}",
            },
            "username": {"type": "string", "maxLength": 80, "title": "Username", "description": "Overrides the name shown (if the app allows it)."},
            "icon_emoji": {
                "type": "string",
                "maxLength": 100,
                "title": "Icon emoji",
                "description": "Overrides the avatar with an emoji, e.g. :robot_face: (if the app allows it).",
            },
            "thread_ts": {
                "type": "string",
                "maxLength": 40,
                "title": "Thread",
                "description": "The ts of a message to reply to in its thread, e.g. 1712345678.000100.",
            },
        },
        "additionalProperties": False,
    }
    output_schema = {
        "type": "object",
        "properties": {
            "ok": {"type": "boolean"},
            "status": {"type": "integer", "description": "The HTTP status Slack answered with (200)."},
            "response": {"type": "string", "description": 'Slack\'s answer ("ok").'},
        },
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        if not config.get("text") and not config.get("blocks"):
            return ["text: give the message text (or Blocks)"]
        blocks = config.get("blocks")
        if isinstance(blocks, str) and blocks.strip() and not is_template(blocks):
            try:
                cls._blocks(blocks)
            except ActionError as exc:
                return [str(exc)]
        return []

    def run(self, ctx: Context, config: dict) -> Any:
        text = config.get("text")
        if text is not None and not isinstance(text, str):
            text = json.dumps(text) if isinstance(text, dict | list) else str(text)
        blocks = self._blocks(config.get("blocks"))
        if not (text or "").strip() and not blocks:
            raise ActionError("text: the message is empty (give text or blocks)")
        payload: dict[str, Any] = {}
        if text:
            payload["text"] = text[:TEXT_MAX]
        if blocks:
            payload["blocks"] = blocks
        for field in ("username", "icon_emoji", "thread_ts"):
            value = config.get(field)
            if value not in (None, ""):
                payload[field] = str(value)

        name = config.get("credential")
        if not isinstance(name, str) or not name.strip():
            raise ActionError("credential: give the name of a Slack webhook credential")
        url = str(ctx.credential(name.strip(), CredentialKind.SLACK_WEBHOOK).get("url") or "").strip()
        if not url:
            raise ActionError(f"credential {name!r}: the webhook URL is missing")

        ctx.log(f"posting to Slack through the webhook of credential {name!r}" + (f" ({len(blocks)} blocks)" if blocks else ""))
        # The step's deadline ends the exchange (guarded_request's own floor).
        status, body = post_to_webhook(ctx.tenant, url, payload, name=name, timeout=ctx.time_left(DEFAULT_TIMEOUT), idempotency_key=ctx.idempotency_key)
        ctx.log(f"Slack answered {status} {body[:100]!r}")
        return {"ok": True, "status": status, "response": body[:1000]}

    @staticmethod
    def _blocks(value: Any) -> list[dict]:
        """The rendered blocks as a list of objects ([] when none)."""
        if value in (None, "", []):
            return []
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ActionError("blocks: expected a list of Block Kit objects (JSON), got text that is not JSON") from None
        if isinstance(value, dict) and isinstance(value.get("blocks"), list):
            value = value["blocks"]  # a whole Block Kit Builder payload pasted in
        if not isinstance(value, list) or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in value):
            raise ActionError('blocks: expected a list of Block Kit objects, each with a "type"')
        if len(value) > BLOCKS_MAX:
            raise ActionError(f"blocks: Slack allows at most {BLOCKS_MAX} blocks in a message (got {len(value)})")
        return value


def post_to_webhook(
    tenant: Any, url: str, payload: dict, *, name: str, timeout: float = DEFAULT_TIMEOUT, idempotency_key: str | None = None
) -> tuple[int, str]:
    """POST `payload` to the incoming webhook `url` through the outbound guard: (200, Slack's answer).

    Used by the action and by the platform's failure alerts (circuits/automation/failures/).
    Any other answer or a refused destination is an ActionError that never shows the URL
    (the secret) or its path; `name` is the credential's, for the message.
    """
    try:
        # No redirects: a webhook answers itself, and the URL (the secret) should go nowhere else.
        response = guarded_request(
            tenant,
            "POST",
            url,
            json=payload,
            timeout=timeout,
            max_bytes=RESPONSE_MAX_BYTES,
            follow_redirects=False,
            idempotency_key=idempotency_key,
        )
    except OutboundError as exc:
        raise ActionError(f"Slack webhook ({name}): {_scrub(str(exc), url)}") from None
    body = _scrub(response.text.strip(), url)
    if response.status_code != 200:
        excerpt = body[:300] or response.reason_phrase or "(empty body)"
        raise ActionError(f"Slack answered {response.status_code}: {excerpt}")
    return response.status_code, body


SLACK_HOOK_HOST = "hooks.slack.com"
SLACK_HOOK_PATHS = ("/services/", "/workflows/", "/triggers/")


def webhook_url_error(tenant: Any, url: Any) -> str | None:
    """Why `url` cannot be the URL of a `slack_webhook` credential for `tenant`, or None.

    Allowed: Slack's own incoming-webhook URLs (https://hooks.slack.com/services/…, also
    /workflows/ and /triggers/), or an http(s) URL whose host the tenant's outbound
    allow-list names (a relay of its own, the demo's local inbox). The URL is the secret,
    so the message never repeats it.
    """
    if not isinstance(url, str) or not url.strip():
        return "give the incoming-webhook URL"
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "must be one URL, without spaces or line breaks"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "is not a valid URL"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return f"must be a Slack incoming-webhook URL (https://{SLACK_HOOK_HOST}/services/…)"
    if parsed.userinfo:
        return "must not contain a user name or password"
    host = parsed.host.lower().rstrip(".")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if host == SLACK_HOOK_HOST:
        path = parsed.path
        if parsed.scheme == "https" and port == 443 and any(path.startswith(p) and len(path) > len(p) for p in SLACK_HOOK_PATHS):
            return None
        return f"a Slack webhook URL starts with https://{SLACK_HOOK_HOST}/services/ (copy it from the Slack app's Incoming Webhooks page)"
    if allowlisted(tenant, host, port):
        return None
    return (
        f"must be a Slack incoming-webhook URL (https://{SLACK_HOOK_HOST}/services/…), or point at a host "
        "the tenant's outbound allow-list names (add it there first)"
    )


def _scrub(message: str, url: str) -> str:
    """`message` without the webhook URL or its secret path, in whatever form the guard showed it."""
    paths = {urlsplit(url).path, urlsplit(url).query}
    try:
        parsed = httpx.URL(url)
        paths |= {parsed.path, parsed.raw_path.decode("ascii", "replace"), parsed.query.decode("ascii", "replace")}
    except (httpx.InvalidURL, TypeError):
        pass
    message = redact(message, {url, url.rstrip("/")}, "<webhook URL>")
    return redact(message, {p.rstrip("/") for p in paths if p and p.strip("/")}, "/…")
