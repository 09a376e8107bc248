"""`record.changed` on the tenant's live stream: real Channels clients, real Redis layer.

A committed record write (by a member or by a circuit's step) tells the tenant's open pages
which record moved — never its data, and never to another tenant's members.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from circuitos_site.asgi import application
from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from circuits.records.models import Record
from circuits.records.service import CreateRecord, DeleteRecord, UpdateRecord
from tests.engine.helpers import build, chain, node

ORIGIN = [(b"origin", b"http://localhost")]


async def _listen(user, slug: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/t/{slug}/events/", headers=ORIGIN)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def _next_record_event(communicator: WebsocketCommunicator, limit: int = 50) -> dict:
    for _ in range(limit):
        event = await communicator.receive_json_from(timeout=5)
        if event["kind"] == "record.changed":
            return event
    raise AssertionError("no record.changed event arrived")


@pytest.mark.django_db(transaction=True)
async def test_a_members_record_writes_reach_the_tenants_sockets_without_the_data_and_another_tenants_member_hears_nothing(world):
    acme = await _listen(world.viewer, "acme")
    globex = await _listen(world.outsider, "globex")  # a member of the other tenant, on their own stream

    record = await sync_to_async(CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.com"}).execute)()
    created = await _next_record_event(acme)
    assert {k: created[k] for k in ("record", "object_type", "operation", "execution_id")} == {
        "record": record.pk,
        "object_type": "lead",
        "operation": "created",
        "execution_id": None,
    }
    assert "ada@example.com" not in str(created)  # pages re-read the record through their own view

    await sync_to_async(UpdateRecord(world.tenant, world.editor, record, {"first_name": "Ada"}).execute)()
    assert (await _next_record_event(acme))["operation"] == "updated"
    await sync_to_async(DeleteRecord(world.tenant, world.editor, record).execute)()
    assert (await _next_record_event(acme))["operation"] == "deleted"
    assert await globex.receive_nothing(timeout=0.5)

    # And the other way round: globex's write is globex's alone.
    theirs = await sync_to_async(CreateRecord(world.other_tenant, world.outsider, "lead", {"email": "g@example.com"}).execute)()
    assert (await _next_record_event(globex))["record"] == theirs.pk
    assert await acme.receive_nothing(timeout=0.5)
    for communicator in (acme, globex):
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_write_that_rolls_back_sends_nothing(world):
    acme = await _listen(world.viewer, "acme")

    def write_then_fail() -> None:
        with transaction.atomic():
            CreateRecord(world.tenant, world.editor, "lead", {"email": "gone@example.com"}).execute()
            raise RuntimeError("the caller's transaction fails after the write")

    with pytest.raises(RuntimeError):
        await sync_to_async(write_then_fail)()
    assert not await sync_to_async(Record.objects.filter(tenant=world.tenant).exists)()
    assert await acme.receive_nothing(timeout=0.5)
    await acme.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_circuits_step_that_updates_a_record_names_its_execution(world):
    record = await sync_to_async(CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.com"}).execute)()
    circuit = await sync_to_async(build)(
        world,
        "touch-lead",
        [node("touch", "data.update_record", {"object_type": "lead", "record_id": "{{ trigger.id }}", "fields": {"score": 70}})],
        chain("touch"),
    )
    acme = await _listen(world.viewer, "acme")
    globex = await _listen(world.outsider, "globex")
    execution = await sync_to_async(create_execution)(circuit, {"id": record.pk})
    await sync_to_async(run_now)(execution)
    event = await _next_record_event(acme)
    assert (event["record"], event["operation"], event["execution_id"]) == (record.pk, "updated", execution.pk)
    assert await globex.receive_nothing(timeout=0.5)
    for communicator in (acme, globex):
        await communicator.disconnect()
