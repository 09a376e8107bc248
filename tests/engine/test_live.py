"""Every state change reaches a real Channels WebSocket client; other tenants hear nothing."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from circuitos_site.asgi import application
from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from tests.engine.helpers import build, chain, node


async def connect(user, path: str):
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


async def drain(communicator, until_kind: str, limit: int = 50) -> list[dict]:
    messages = []
    for _ in range(limit):
        message = await communicator.receive_json_from(timeout=5)
        messages.append(message)
        if message["kind"] == until_kind:
            break
    return messages


@pytest.mark.django_db(transaction=True)
async def test_step_and_execution_events_stream_to_the_execution_and_tenant_groups(world):
    circuit = await sync_to_async(build)(
        world,
        "live",
        [node("a", "util.log", {"message": "hello {{ trigger.who }}"}), node("b", "util.transform", {"template": "done"})],
        chain("a", "b"),
    )
    execution = await sync_to_async(create_execution)(circuit, {"who": "ws"})
    per_execution, ok, _ = await connect(world.viewer, f"/ws/t/acme/executions/{execution.pk}/")
    assert ok
    snapshot = await per_execution.receive_json_from(timeout=5)
    assert snapshot["kind"] == "execution.snapshot" and snapshot["status"] == "queued" and snapshot["steps"] == []
    tenant_wide, ok, _ = await connect(world.viewer, "/ws/t/acme/events/")
    assert ok
    outsider, ok, _ = await connect(world.outsider, "/ws/t/globex/events/")
    assert ok  # the outsider listens to their own tenant

    await sync_to_async(run_now)(execution)

    messages = await drain(per_execution, "execution.finished")
    kinds = [(m["kind"], m.get("node")) for m in messages]
    assert kinds[0] == ("execution.started", None)
    assert ("step.started", "a") in kinds and ("log", "a") in kinds and ("step.finished", "b") in kinds
    assert kinds.index(("step.finished", "a")) < kinds.index(("step.started", "b"))
    log = next(m for m in messages if m["kind"] == "log")
    assert log["message"] == "hello ws"
    finished = messages[-1]
    assert finished["status"] == "succeeded" and finished["output"] == "done"
    tenant_messages = await drain(tenant_wide, "execution.finished")
    assert tenant_messages[-1]["execution"] == execution.pk
    assert await outsider.receive_nothing(timeout=0.3)
    for c in (per_execution, tenant_wide, outsider):
        await c.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_reconnecting_page_catches_up_from_the_snapshot(world):
    circuit = await sync_to_async(build)(world, "catch-up", [node("a", "util.transform", {"template": 1})], chain("a"))
    execution = await sync_to_async(run_now)(await sync_to_async(create_execution)(circuit, {}))
    communicator, ok, _ = await connect(world.viewer, f"/ws/t/acme/executions/{execution.pk}/")
    assert ok
    snapshot = await communicator.receive_json_from(timeout=5)
    assert snapshot["status"] == "succeeded" and snapshot["steps"][0]["node"] == "a" and snapshot["steps"][0]["output"] == 1
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_no_one_subscribes_to_another_tenants_execution(world):
    circuit = await sync_to_async(build)(world, "private", [node("a", "util.transform", {"template": 1})], chain("a"))
    execution = await sync_to_async(create_execution)(circuit, {})
    # An outsider naming our tenant (4403: not a member), or their own tenant with our execution
    # id (4404: no such execution there): both closed at once, nothing sent.
    c, ok, _ = await connect(world.outsider, f"/ws/t/acme/executions/{execution.pk}/")
    assert ok and await c.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
    c, ok, _ = await connect(world.outsider, f"/ws/t/globex/executions/{execution.pk}/")
    assert ok and await c.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
