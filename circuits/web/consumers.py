"""WebSocket consumers. Every subscription is checked against the user's membership.

On connect a consumer first sends a snapshot from the database, so a page that reconnects
after a drop catches up on everything it missed; live events follow.

A refusal is an accepted socket closed at once with a code the page can act on — 4403 for
an anonymous user or one who is not a member of the tenant (an unknown tenant looks the
same, so slugs cannot be probed), 4404 for an execution the member cannot see and for a
path no route matches (`NotFoundConsumer`). Closing before accepting would fail the
handshake instead (HTTP 403, or 500 for an unmatched path), and a browser sees only 1006.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.core.live import (
    PRESENCE_REFRESH,
    amark_listening,
    close_member_sockets_on_commit,
    close_session_sockets,
    execution_group,
    member_group,
    session_group,
    tenant_group,
)
from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.tenancy.permissions import has_perm
from circuits.tenancy.resolve import TenantNotFound, member_tenant

log = logging.getLogger(__name__)

FORBIDDEN = 4403
NOT_FOUND = 4404
# Primary keys are bigint: a larger id in the path cannot name an execution.
MAX_ID = 2**63 - 1


def _signed_in(user) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False))


@database_sync_to_async
def _tenant_for(user, slug: str) -> Tenant | None:
    if not _signed_in(user):
        return None
    try:
        tenant = member_tenant(user, slug)
    except TenantNotFound:
        return None
    return tenant if has_perm(user, tenant, "view") else None


def execution_snapshot(execution: Execution) -> dict:
    return {
        "kind": "execution.snapshot",
        "execution": execution.pk,
        "circuit": execution.circuit.slug,
        "status": execution.status,
        "output": execution.output,
        "error": execution.error,
        "duration_ms": execution.duration_ms,
        "steps": [
            {
                "node": s.node_key,
                "scope": s.scope,
                "attempt": s.attempt,
                "status": s.status,
                "port": s.port,
                "output": s.output,
                "error": s.error,
                "duration_ms": s.duration_ms,
            }
            for s in execution.steps.order_by("pk")
        ],
    }


@database_sync_to_async
def _execution_for(user, tenant: Tenant, execution_id: int) -> dict | None:
    visible = Circuit.objects.restrict(user, "view", tenant)
    execution = Execution.objects.for_tenant(tenant).filter(pk=execution_id, circuit__in=visible).select_related("circuit").first()
    return execution_snapshot(execution) if execution else None


class NotFoundConsumer(AsyncWebsocketConsumer):
    """Every WebSocket path no route matches: accepted, then closed with 4404."""

    async def connect(self):
        await self.accept()
        await self.close(code=NOT_FOUND)


@receiver(user_logged_out, dispatch_uid="web.close_session_sockets")
def _close_sockets_of_a_session_that_signs_out(sender, request, user, **kwargs) -> None:
    # Sent before the session is flushed, so its key still names the sockets it opened.
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        close_session_sockets(session.session_key)


def _close_every_socket_of(user) -> None:
    for tenant_id in Membership.objects.filter(user=user).values_list("tenant_id", flat=True):
        close_member_sockets_on_commit(tenant_id, user.pk)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="web.close_sockets_of_deactivated_users")
def _close_sockets_of_a_deactivated_user(sender, instance, created, **kwargs) -> None:
    # Sockets are let in once, at connect: a user switched off in the admin kept streaming
    # every tenant's events until the page closed.
    if not created and not instance.is_active:
        _close_every_socket_of(instance)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="web.close_sockets_of_deleted_users")
def _close_sockets_of_a_deleted_user(sender, instance, **kwargs) -> None:
    _close_every_socket_of(instance)  # before the cascade takes the memberships that name the groups


class _Base(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]

    async def join(self, *groups: str) -> None:
        # Every socket also joins its session's group: signing out closes it (4403).
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if key:
            groups = (*groups, session_group(key))
        self.groups_joined = list(groups)
        # Marked before joining (and before the snapshot is read): the publisher skips groups
        # nobody marked, and whatever it skipped before this is in the snapshot.
        await amark_listening(self.groups_joined)
        self._presence = asyncio.ensure_future(self._keep_presence())
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def _keep_presence(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_REFRESH)
            try:
                await amark_listening(self.groups_joined)
            except Exception:  # a cache outage: events may be skipped; the page catches up when it reconnects
                log.warning("could not renew a live socket's presence", exc_info=True)

    async def refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code):
        presence = getattr(self, "_presence", None)
        if presence is not None:
            presence.cancel()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def circuit_event(self, message):
        await self.send_json(message["event"])

    async def circuit_events(self, message):
        # Events that waited together for this group, coalesced by the publisher: one frame each, in order.
        for event in message["events"]:
            await self.send_json(event)

    async def member_left(self, message):
        # The membership this socket was let in by has ended: nothing more of the tenant goes out on it.
        await self.close(code=FORBIDDEN)


class TenantEventsConsumer(_Base):
    """Streams every execution/step event of one tenant (history pages, dashboards)."""

    async def connect(self):
        tenant = await _tenant_for(self.scope.get("user"), self.scope["url_route"]["kwargs"]["tenant_slug"])
        if tenant is None:
            await self.refuse(FORBIDDEN)
            return
        await self.join(tenant_group(tenant.pk), member_group(tenant.pk, self.scope["user"].pk))
        await self.accept()


class ExecutionConsumer(_Base):
    """Streams one execution: a snapshot from the database, then every live event."""

    async def connect(self):
        user = self.scope.get("user")
        kwargs = self.scope["url_route"]["kwargs"]
        tenant = await _tenant_for(user, kwargs["tenant_slug"])
        if tenant is None:
            await self.refuse(FORBIDDEN)
            return
        execution_id = int(kwargs["execution_id"])
        snapshot = None
        if execution_id <= MAX_ID:
            # Subscribe before reading the snapshot so nothing falls between the two.
            await self.join(execution_group(execution_id), member_group(tenant.pk, user.pk))
            snapshot = await _execution_for(user, tenant, execution_id)
        if snapshot is None:
            await self.disconnect(NOT_FOUND)
            self.groups_joined = []
            await self.refuse(NOT_FOUND)
            return
        await self.accept()
        await self.send_json(snapshot)
