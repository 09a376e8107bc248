"""Inbound webhooks: a per-trigger URL /hooks/<token>, token or HMAC authentication.

The HTTP endpoint that receives deliveries is circuits/web/webhooks.py; this is the kind.
"""

from __future__ import annotations

import secrets

from circuits.automation.models.trigger import Trigger
from circuits.automation.triggers.base import TriggerKind
from circuits.automation.triggers.registry import register


@register
class WebhookTrigger(TriggerKind):
    type = "webhook"
    label = "Inbound webhook"
    description = "Fires when a delivery is POSTed to the trigger's own URL."
    schema = {
        "type": "object",
        "properties": {
            "auth": {
                "enum": ["token", "hmac"],
                "default": "token",
                "title": "Authentication",
                "description": (
                    "token: the URL is the secret. hmac: each delivery must also send X-Circuit-Timestamp (Unix seconds) and "
                    'X-Circuit-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>"> made with the secret below; '
                    "a signature is accepted within 5 minutes of its timestamp (the site may set another window), and only once."
                ),
            },
            "secret_credential": {"type": "string", "title": "HMAC secret credential", "description": "A webhook_secret credential of this tenant."},
            "respond": {"enum": ["immediately", "wait"], "default": "immediately", "title": "Respond"},
            "wait_timeout_seconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 60,
                "default": 10,
                "title": "Wait for the output (s)",
                "description": "With respond: wait, how long the sender waits; a run still going then answers 202 and finishes in a worker.",
            },
            "max_bytes": {"type": "integer", "minimum": 1, "maximum": 10_000_000, "default": 1_000_000},
        },
        "additionalProperties": False,
    }
    order = 70
    payload_help = (
        "A delivery reaches the circuit as trigger.body (the JSON or form body), trigger.query "
        "(the query-string parameters) and trigger.headers (its content-type): a field name sent "
        "in the body is read as {{ trigger.body.name }}."
    )

    @classmethod
    def sample_payload(cls, config: dict) -> dict:
        # circuits/web/webhooks.py builds exactly this shape from a delivery.
        return {"body": {}, "query": {}, "headers": {"content-type": "application/json"}}

    @classmethod
    def check(cls, config: dict) -> list[str]:
        if config.get("auth") == "hmac" and not config.get("secret_credential"):
            return ["config.secret_credential: HMAC authentication needs a webhook_secret credential"]
        return []

    @classmethod
    def prepare(cls, trigger: Trigger) -> None:
        # The URL's token is the secret of "token" mode: unguessable, kept across edits.
        if not trigger.webhook_token:
            trigger.webhook_token = secrets.token_urlsafe(24)
