"""In-app Notification: a bell-icon message for the tenant's members, stored and pushed live."""

from __future__ import annotations

from typing import Any

from actions.notify._common import string_list
from actions.sdk import Action, ActionError, Context, is_template, register
from circuits.automation.notifications import LEVELS, TITLE_MAX, create_notifications, link_error, publish_notification, resolve_members
from circuits.tenancy.idempotency import apply_once
from circuits.tenancy.models.notifications import Notification

MAX_RECIPIENTS = 500


@register
class InAppNotification(Action):
    name = "notify.inapp"
    category = "notify"
    label = "In-app Notification"
    description = "Shows a notification inside Circuit OS — to everyone in the workspace or to chosen members — and pushes it live to open pages."
    schema = {
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": {
                "type": "string",
                "minLength": 1,
                "title": "Title",
                "description": f"One line, up to {TITLE_MAX} characters (longer text is cut). Templates allowed: New lead {{{{ trigger.name }}}}",
            },
            "body": {"type": "string", "title": "Body", "description": "The message under the title. Templates allowed."},
            "level": {
                "enum": list(LEVELS),
                "default": "info",
                "title": "Level",
                "description": "How the notification is shown: info, success, warning or error.",
            },
            "link": {
                "type": "string",
                "title": "Link",
                "description": "Where clicking the notification goes: a path on this site (/records/lead/42/) or an http(s) URL.",
            },
            "recipients": {
                "type": ["string", "array"],
                "items": {"type": "string", "minLength": 1},
                "minItems": 1,
                "maxItems": MAX_RECIPIENTS,
                "default": "all",
                "title": "Recipients",
                "description": (
                    '"all" for everyone in the workspace, or the usernames / e-mail addresses of members '
                    "(a list, or one string separated by commas). Everyone named must be a member."
                ),
            },
        },
        "additionalProperties": False,
    }
    output_schema = {
        "type": "object",
        "properties": {
            "created": {"type": "integer", "description": "How many notifications were stored (1 for everyone)."},
            "notification_ids": {"type": "array", "items": {"type": "integer"}},
        },
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        errors = []
        link = config.get("link")
        if isinstance(link, str) and not is_template(link) and (problem := link_error(link)):
            errors.append(f"link: {problem}")
        recipients = config.get("recipients", "all")
        if isinstance(recipients, str) and not is_template(recipients) and not recipients.strip():
            errors.append('recipients: give "all" or the usernames / e-mail addresses of members')
        return errors

    def run(self, ctx: Context, config: dict) -> Any:
        title = config.get("title")
        if not isinstance(title, str) or not title.strip():
            raise ActionError("title: is empty")
        # A title is one line in the bell menu; a template may have rendered line breaks into it.
        title = " ".join(title.split())
        body = config.get("body") or ""
        if not isinstance(body, str):
            raise ActionError(f"body: expected text, got {type(body).__name__}")
        level = config.get("level") or "info"
        if level not in LEVELS:
            raise ActionError(f"level: {level!r} is not one of {', '.join(LEVELS)}")
        link = config.get("link") or ""
        if not isinstance(link, str):
            raise ActionError(f"link: expected text, got {type(link).__name__}")
        link = link.strip()
        if problem := link_error(link):
            raise ActionError(f"link: {problem}")

        users = self._recipients(ctx, config.get("recipients", "all"))
        created, first = apply_once(
            ctx.tenant,
            ctx.idempotency_key,
            "notify",
            lambda: create_notifications(ctx.tenant, title=title, body=body, level=level, link=link, users=users, execution=ctx.execution, publish=False),
            lambda made: (None, {"ids": [n.pk for n in made]}),
            # The step re-run after its worker died: the notifications exist already.
            lambda applied: list(Notification.objects.for_tenant(ctx.tenant).filter(pk__in=applied.result.get("ids", []))),
        )
        if not first:
            ctx.log("already notified by this step before its worker stopped; not sent again")
            return {"created": len(created), "notification_ids": [n.pk for n in created]}
        published = sum(publish_notification(n) for n in created)
        who = "everyone" if users is None else f"{len(users)} member(s)"
        ctx.log(f"notified {who}: {title[:100]}")
        if published < len(created):
            ctx.log("the live update could not be sent; the notification is stored and shows on the next page load", "warning")
        return {"created": len(created), "notification_ids": [n.pk for n in created]}

    @staticmethod
    def _recipients(ctx: Context, value: Any) -> list[Any] | None:
        """None for everyone; otherwise the named members (ActionError naming any non-member)."""
        if value is None or (isinstance(value, str) and value.strip().lower() == "all"):
            return None
        names = string_list(value, "recipients")
        if not names:
            raise ActionError('recipients: is empty; give "all" or the usernames / e-mail addresses of members')
        if any(name.lower() == "all" for name in names):
            raise ActionError('recipients: "all" cannot be combined with named members')
        if len(names) > MAX_RECIPIENTS:
            raise ActionError(f"recipients: at most {MAX_RECIPIENTS} members per notification (got {len(names)})")
        users, missing = resolve_members(ctx.tenant, names)
        if missing:
            # Said the same way whether or not the person exists elsewhere: nothing leaks across tenants.
            raise ActionError(f"recipients: not members of {ctx.tenant.name}: {', '.join(missing)}")
        return users
