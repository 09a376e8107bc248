"""In-app notifications: resolving recipients inside one tenant, storing, publishing live.

A notification is for one member (`user`) or, with `user` empty, for everyone in the
tenant. Recipients are always looked up through the tenant's memberships, so a name or an
address that belongs to someone in another tenant is simply "not a member" here.

Publishing is best-effort: the database row is the truth and pages catch up from it, so a
missing or unreachable channel layer never fails whoever created the notification.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from circuits.core.live import tenant_group
from circuits.tenancy.models.notifications import Notification
from circuits.tenancy.models.tenants import Membership

if TYPE_CHECKING:
    from circuits.automation.models.execution import Execution
    from circuits.tenancy.models.tenants import Tenant

log = logging.getLogger(__name__)

LEVELS = ("info", "success", "warning", "error")
TITLE_MAX = Notification._meta.get_field("title").max_length
LINK_MAX = Notification._meta.get_field("link").max_length


def link_error(link: str) -> str | None:
    """Why `link` cannot be a notification link, or None.

    Allowed: a path on this site ("/circuits/42/") or an absolute http(s) URL. Refused:
    other schemes (javascript:, data:, …) and protocol-relative "//host" links, which
    would leave the site while looking local.
    """
    if not link:
        return None
    if len(link) > LINK_MAX:
        return f"is longer than {LINK_MAX} characters"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in link):
        return "must not contain control characters or line breaks"
    if link.startswith("/"):
        if link.startswith("//") or link.startswith("/\\"):
            return "must be a path on this site (starting with a single /) or an http(s) URL"
        return None
    scheme, sep, rest = link.partition("://")
    if sep and scheme.lower() in ("http", "https") and rest and not rest.startswith("/"):
        return None
    return "must be a path on this site (starting with /) or an http(s) URL"


def resolve_members(tenant: Tenant, identifiers: Iterable[str]) -> tuple[list[Any], list[str]]:
    """The tenant members named by usernames or e-mail addresses, and the names that are not members.

    An identifier with "@" is matched against e-mail addresses (case-insensitively), any
    other against usernames. Users come back in the order first named, without repeats.
    """
    wanted = [i.strip() for i in identifiers if isinstance(i, str) and i.strip()]
    if not wanted:
        return [], []
    usernames = {i for i in wanted if "@" not in i}
    emails = {i.lower() for i in wanted if "@" in i}
    query = Q(username__in=usernames) if usernames else Q(pk__in=[])
    for email in emails:
        query |= Q(email__iexact=email)
    member_ids = Membership.objects.for_tenant(tenant).values("user_id")
    users = list(get_user_model().objects.filter(query, pk__in=member_ids).order_by("pk"))
    by_username = {u.get_username(): u for u in users}
    by_email: dict[str, Any] = {}
    for user in users:  # ordered by pk: the oldest account wins when two members share an address
        by_email.setdefault((user.email or "").lower(), user)
    found: list[Any] = []
    missing: list[str] = []
    for identifier in wanted:
        user = by_email.get(identifier.lower()) if "@" in identifier else by_username.get(identifier)
        if user is None:
            if identifier not in missing:
                missing.append(identifier)
        elif user not in found:
            found.append(user)
    return found, missing


def create_notifications(
    tenant: Tenant,
    *,
    title: str,
    body: str = "",
    level: str = "info",
    link: str = "",
    users: Sequence[Any] | None = None,
    execution: Execution | None = None,
    publish: bool = True,
) -> list[Notification]:
    """Store one notification per user (or one for everyone when `users` is None) and publish them.

    The caller has checked that `users` are members of `tenant` (see `resolve_members`).
    With `publish=False` the caller publishes (and learns which sends failed) itself.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    fields = {"tenant": tenant, "title": title[:TITLE_MAX], "body": body, "level": level, "link": link, "execution": execution}
    targets: list[Any] = [None] if users is None else list(users)
    with transaction.atomic():
        created = Notification.objects.bulk_create([Notification(user=user, **fields) for user in targets])
    if publish:
        for notification in created:
            publish_notification(notification)
    return created


def notification_event(notification: Notification) -> dict[str, Any]:
    user = notification.user
    return {
        "kind": "notification",
        "id": notification.pk,
        "title": notification.title,
        "body": notification.body,
        "level": notification.level,
        "link": notification.link,
        # None = for everyone in the tenant; otherwise pages show it only to this user.
        "user_id": notification.user_id,
        "user": user.get_username() if user is not None else None,
        "execution_id": notification.execution_id,
        "created_at": notification.created_at.isoformat() if notification.created_at else None,
    }


def publish_notification(notification: Notification) -> bool:
    """Send the notification to the tenant's live group; False (never an exception) when it could not be sent."""
    try:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return False
        message = {"type": "circuit.event", "event": notification_event(notification)}
        async_to_sync(layer.group_send)(tenant_group(notification.tenant_id), message)
        return True
    except Exception:  # best-effort: the row is stored, pages load it when they (re)connect
        log.warning("could not publish notification %s", notification.pk, exc_info=True)
        return False
