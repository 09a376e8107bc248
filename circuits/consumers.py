"""WebSocket consumers. Every subscription is checked against the user's membership.

On connect a consumer first sends a snapshot from the database, so a page that reconnects
after a drop catches up on everything it missed; live events follow.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from circuits.engine.live import execution_group, tenant_group
from circuits.models import Circuit, Execution
from circuits.models.tenancy import Tenant
from circuits.permissions import has_perm

NOT_FOUND = 4404


@database_sync_to_async
def _tenant_for(user, slug: str) -> Tenant | None:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None or not has_perm(user, tenant, "view"):
        return None
    return tenant


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


class _Base(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]

    async def join(self, *groups: str) -> None:
        self.groups_joined = list(groups)
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def circuit_event(self, message):
        await self.send_json(message["event"])


class TenantEventsConsumer(_Base):
    """Streams every execution/step event of one tenant (history pages, dashboards)."""

    async def connect(self):
        user = self.scope.get("user")
        tenant = await _tenant_for(user, self.scope["url_route"]["kwargs"]["tenant_slug"]) if user else None
        if tenant is None:
            await self.close(code=NOT_FOUND)
            return
        await self.join(tenant_group(tenant.pk))
        await self.accept()


class ExecutionConsumer(_Base):
    """Streams one execution: a snapshot from the database, then every live event."""

    async def connect(self):
        user = self.scope.get("user")
        kwargs = self.scope["url_route"]["kwargs"]
        tenant = await _tenant_for(user, kwargs["tenant_slug"]) if user else None
        # Subscribe before reading the snapshot so nothing falls between the two.
        snapshot = None
        if tenant is not None:
            await self.join(execution_group(int(kwargs["execution_id"])))
            snapshot = await _execution_for(user, tenant, int(kwargs["execution_id"]))
        if snapshot is None:
            await self.disconnect(NOT_FOUND)
            await self.close(code=NOT_FOUND)
            return
        await self.accept()
        await self.send_json(snapshot)
