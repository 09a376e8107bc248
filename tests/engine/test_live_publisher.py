"""The live publisher sends only to groups someone listens to, coalesces what waits together,
and drops the oldest events — never a close message — when it falls behind (#14).

Before: 16 group_send calls per webhook request went to Redis with nobody listening (a fifth
of the request's CPU), and an unbounded queue fell seconds behind under load. Real channel
layer (Redis in CI) and real consumers.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from circuitos_site.asgi import application
from circuits.automation.dispatch import create_execution
from circuits.core import live
from tests.engine.helpers import build, chain, node


def _unique_execution_id() -> int:
    return random.randint(10**12, 10**13)  # no other test's socket listens to it


async def _collect(layer, channel: str, quiet: float = 0.5) -> list[dict]:
    messages = []
    while True:
        try:
            messages.append(await asyncio.wait_for(layer.receive(channel), quiet))
        except TimeoutError:
            return messages


def test_events_of_an_execution_nobody_watches_are_not_sent():
    layer = get_channel_layer()
    execution_id = _unique_execution_id()
    channel = async_to_sync(layer.new_channel)()
    # Subscribed on the layer, but not marked as a socket marks its groups: nothing is sent.
    async_to_sync(layer.group_add)(live.execution_group(execution_id), channel)
    assert live.flush(5)
    skipped, sent = live._publisher.skipped, live._publisher.sent
    for i in range(5):
        live.publish(_unique_execution_id(), execution_id, {"kind": "step.finished", "seq": i})
    assert live.flush(5)
    assert async_to_sync(_collect)(layer, channel) == []
    assert (live._publisher.skipped - skipped, live._publisher.sent - sent) == (10, 0)  # 5 events × (execution + tenant group)


def test_events_waiting_together_go_out_coalesced_in_order_and_close_messages_too():
    layer = get_channel_layer()
    group = live.execution_group(_unique_execution_id())
    channel = async_to_sync(layer.new_channel)()
    live.mark_listening([group])
    async_to_sync(layer.group_add)(group, channel)
    publisher = live._Publisher(maxsize=1000)
    batch = [([group], {"type": "circuit.event", "event": {"seq": i}}) for i in range(150)] + [([group], {"type": "member.left"})]
    async_to_sync(publisher.send)(batch)
    messages = async_to_sync(_collect)(layer, channel)
    assert [m["type"] for m in messages] == ["member.left", "circuit.events", "circuit.events"]
    events = [e for m in messages[1:] for e in m["events"]]
    assert [e["seq"] for e in events] == list(range(150)) and len(messages[1]["events"]) == live.BATCH_MAX
    assert publisher.sent == 150 and publisher.skipped == 0


def test_a_full_queue_drops_its_oldest_events_and_never_a_close_message_or_a_flush_marker():
    publisher = live._Publisher(maxsize=3)

    def event(n: int):
        return (["execution.1"], {"type": "circuit.event", "event": {"seq": n}})

    close, marker = (["member.1.2"], {"type": "member.left"}), threading.Event()
    for item in (event(1), close, event(2), event(3), marker, event(4)):
        publisher.put(item)
    assert list(publisher.items) == [close, event(3), marker, event(4)]
    assert publisher.dropped == 2
    full_of_controls = live._Publisher(maxsize=1)
    full_of_controls.put(close)
    full_of_controls.put(event(5))  # nothing older to drop but a close message: the new event goes
    assert list(full_of_controls.items) == [close] and full_of_controls.dropped == 1


@pytest.mark.django_db(transaction=True)
async def test_a_socket_gets_every_event_published_after_its_snapshot_however_many_arrive_at_once(world):
    circuit = await sync_to_async(build)(world, "watched", [node("t", "util.transform", {"template": "x"})], chain("t"))
    execution = await sync_to_async(create_execution)(circuit, {})
    communicator = WebsocketCommunicator(application, f"/ws/t/acme/executions/{execution.pk}/", headers=[(b"origin", b"http://localhost")])
    communicator.scope["user"] = world.viewer
    connected, _ = await communicator.connect(timeout=5)
    assert connected and (await communicator.receive_json_from(timeout=5))["kind"] == "execution.snapshot"
    for i in range(300):
        live.publish(world.tenant.pk, execution.pk, {"kind": "log", "seq": i})
    received = [await communicator.receive_json_from(timeout=5) for _ in range(300)]
    assert [e["seq"] for e in received] == list(range(300))
    await communicator.disconnect()


def test_events_published_moments_apart_are_gathered_into_one_batch_and_one_message(settings):
    settings.LIVE_COALESCE_MS = 300  # wide, so a loaded machine cannot split what the test spaces by 20 ms
    layer = get_channel_layer()
    group = live.execution_group(_unique_execution_id())
    channel = async_to_sync(layer.new_channel)()
    live.mark_listening([group])
    async_to_sync(layer.group_add)(group, channel)
    batches: list[int] = []

    class Counting(live._Publisher):
        async def send(self, batch: list) -> None:
            batches.append(sum(1 for item in batch if not isinstance(item, threading.Event)))
            await super().send(batch)

    publisher = Counting(maxsize=1000)
    for i in range(5):
        publisher.submit([group], {"type": "circuit.event", "event": {"seq": i}})
        time.sleep(0.02)
    assert publisher.flush(5)
    messages = async_to_sync(_collect)(layer, channel)
    assert batches == [5]  # one presence look-up for the five, not five
    assert [m["type"] for m in messages] == ["circuit.events"] and [e["seq"] for e in messages[0]["events"]] == list(range(5))
