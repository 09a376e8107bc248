"""WebSocket consumers. Every subscription is checked against the user's membership."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from circuits.engine.live import tenant_group
from circuits.models.tenancy import Tenant
from circuits.permissions import has_perm


@database_sync_to_async
def _tenant_for(user, slug: str) -> Tenant | None:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None or not has_perm(user, tenant, "view"):
        return None
    return tenant


class TenantEventsConsumer(AsyncJsonWebsocketConsumer):
    """Streams every execution/step event of one tenant (history pages, dashboards)."""

    async def connect(self):
        user = self.scope.get("user")
        tenant = await _tenant_for(user, self.scope["url_route"]["kwargs"]["tenant_slug"]) if user else None
        if tenant is None:
            await self.close(code=4404)
            return
        self.group = tenant_group(tenant.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def circuit_event(self, message):
        await self.send_json(message["event"])
