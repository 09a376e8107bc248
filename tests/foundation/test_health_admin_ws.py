"""/health, the admin panel, and the tenant WebSocket's membership check."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.test import override_settings

from circuitos_site.asgi import application


@pytest.mark.django_db
def test_health_is_200_when_everything_is_up(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "up" and body["down"] == []
    assert {c["status"] for c in body["components"].values()} == {"up"}


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_health_is_503_and_names_the_task_queue_when_the_broker_is_down(client):
    # A real broker URL on a port where nothing listens: the connection genuinely fails.
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["task_queue"]
    assert body["components"]["database"]["status"] == "up"


@pytest.mark.django_db
def test_health_is_503_and_names_the_channel_layer_when_redis_is_down(client):
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}
    from channels.layers import channel_layers

    with override_settings(CHANNEL_LAYERS=layers):
        channel_layers.backends.clear()
        try:
            response = client.get("/health")
        finally:
            channel_layers.backends.clear()
    assert response.status_code == 503
    assert "channel_layer" in response.json()["down"]


def test_admin_lists_every_model_for_a_superuser(admin_client):
    assert admin_client.get("/admin/").status_code == 200
    for model in apps.get_app_config("circuits").get_models():
        url = f"/admin/circuits/{model._meta.model_name}/"
        assert admin_client.get(url).status_code == 200, url


def test_admin_offers_guardian_object_permissions_for_circuits(admin_client, world):
    from circuits.automation.models.circuit import Circuit

    circuit = Circuit.objects.create(tenant=world.tenant, name="C", slug="c")
    response = admin_client.get(f"/admin/circuits/circuit/{circuit.pk}/permissions/")
    assert response.status_code == 200


def test_admin_is_closed_to_non_staff(client_for, world):
    response = client_for(world.owner).get("/admin/")
    assert response.status_code == 302


async def _connect(user, slug: str):
    communicator = WebsocketCommunicator(application, f"/ws/t/{slug}/events/", headers=[(b"origin", b"http://localhost")])
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


@pytest.mark.django_db(transaction=True)
async def test_member_subscribes_to_tenant_events_and_outsider_is_refused(world):
    from channels.layers import get_channel_layer

    from circuits.core.live import tenant_group

    communicator, connected, _ = await _connect(world.viewer, "acme")
    assert connected
    await get_channel_layer().group_send(tenant_group(world.tenant.pk), {"type": "circuit.event", "event": {"kind": "ping"}})
    assert await communicator.receive_json_from(timeout=5) == {"kind": "ping"}
    await communicator.disconnect()

    # Refusals are an accepted socket closed with a code (tests/http/test_websockets.py).
    outsider, connected, _ = await _connect(world.outsider, "acme")
    assert connected and (await outsider.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4403}
    unknown, connected, _ = await _connect(world.owner, "nope")
    assert connected and (await unknown.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4403}
