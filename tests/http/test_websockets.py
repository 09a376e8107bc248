"""WebSocket routes answer with close codes a page can act on, never a failed handshake.

Before: a path no route matched raised in Channels' router (daphne answered the handshake
with 500), and refusals closed before accepting (a 403 handshake: the browser sees 1006,
so the pages' "4404 means stop retrying" never fired).
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from circuitos_site.asgi import application
from circuits.automation.dispatch import create_execution
from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.services.members import RemoveMember
from tests.engine.helpers import build, chain, node
from tests.http.conftest import session_cookie
from tests.http.wsclient import LiveSocket

ORIGIN = [(b"origin", b"http://localhost")]


async def _open(path: str, user=None) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    if user is not None:
        communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def _closed_with(path: str, user=None) -> int | None:
    communicator, connected = await _open(path, user)
    assert connected, f"{path}: the handshake was refused instead of accepted-then-closed"
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message.get("code")


@pytest.mark.parametrize("path", ["/ws/nowhere/", "/ws/t/acme/executions/not-a-number/", "/", "/ws/t/acme/events/extra/"])
@pytest.mark.django_db(transaction=True)
async def test_a_path_no_route_matches_is_accepted_and_closed_with_4404(world, path):
    assert await _closed_with(path, world.owner) == 4404


@pytest.mark.django_db(transaction=True)
async def test_an_anonymous_socket_is_closed_with_4403():
    assert await _closed_with("/ws/t/acme/events/") == 4403
    assert await _closed_with("/ws/t/acme/executions/1/") == 4403


@pytest.mark.django_db(transaction=True)
async def test_an_outsider_is_closed_with_4403_whether_or_not_the_tenant_exists(world):
    assert await _closed_with("/ws/t/acme/events/", world.outsider) == 4403
    assert await _closed_with("/ws/t/no-such-tenant/events/", world.outsider) == 4403
    assert await _closed_with("/ws/t/acme/executions/1/", world.outsider) == 4403


def _execution(world):
    circuit = build(world, "ws-flow", [node("out", "util.transform", {"template": "x"})], chain("out"))
    return create_execution(circuit, {})


@pytest.mark.django_db(transaction=True)
async def test_a_member_is_closed_with_4404_for_an_execution_that_is_not_there_and_gets_the_snapshot_of_one_that_is(world):
    execution = await sync_to_async(_execution)(world)
    assert await _closed_with("/ws/t/acme/executions/987654321/", world.viewer) == 4404
    assert await _closed_with("/ws/t/acme/executions/99999999999999999999999/", world.viewer) == 4404
    # Another tenant's execution id, asked for under this member's own tenant: not there.
    assert await _closed_with(f"/ws/t/globex/executions/{execution.pk}/", world.outsider) == 4404
    communicator, connected = await _open(f"/ws/t/acme/executions/{execution.pk}/", world.viewer)
    assert connected
    snapshot = await communicator.receive_json_from(timeout=5)
    assert snapshot["kind"] == "execution.snapshot" and snapshot["execution"] == execution.pk
    await communicator.disconnect()


# --- the same through the real server and a real WebSocket client -----------------------------


def test_the_live_server_answers_an_unmatched_path_with_a_4404_close_not_a_500_handshake(live_daphne):
    with LiveSocket(live_daphne.host, live_daphne.port, "/ws/nowhere/") as socket:
        assert socket.next_event() == {"event": "open"}, socket.events
        closed = socket.next_event()
    assert (closed["event"], closed.get("code")) == ("close", 4404), closed


def test_the_live_server_closes_anonymous_and_outsider_sockets_with_4403_and_keeps_a_members_open(live_daphne, transactional_db, world):
    for cookie in (None, session_cookie(world.outsider)):
        with LiveSocket(live_daphne.host, live_daphne.port, "/ws/t/acme/events/", cookie) as socket:
            assert socket.next_event() == {"event": "open"}, socket.events
            closed = socket.next_event()
        assert (closed["event"], closed.get("code")) == ("close", 4403), closed
    with LiveSocket(live_daphne.host, live_daphne.port, "/ws/t/acme/events/", session_cookie(world.viewer)) as member:
        assert member.next_event() == {"event": "open"}, member.events
        assert member.next_event(timeout=1) == {"event": "timeout"}  # still open


def _remove(world, user) -> None:
    membership = Membership.objects.get(tenant=world.tenant, user=user)
    RemoveMember(world.tenant, world.owner, membership).execute()


@pytest.mark.django_db(transaction=True)
async def test_a_removed_member_is_closed_with_4403_and_gets_no_more_of_the_tenants_events(world):
    # An open socket was checked once, at connect: without this a removed member kept receiving every execution's output.
    execution = await sync_to_async(_execution)(world)
    events, connected = await _open("/ws/t/acme/events/", world.viewer)
    assert connected
    one, connected = await _open(f"/ws/t/acme/executions/{execution.pk}/", world.viewer)
    assert connected and (await one.receive_json_from(timeout=5))["kind"] == "execution.snapshot"
    await sync_to_async(_remove)(world, world.viewer)
    for communicator in (events, one):
        message = await communicator.receive_output(timeout=5)
        assert message == {"type": "websocket.close", "code": 4403}, message


@pytest.mark.django_db(transaction=True)
async def test_signing_out_closes_the_sessions_sockets_with_4403_and_leaves_another_sessions_open(world):
    # Membership is checked at connect; without this a signed-out browser kept streaming the tenant's events.
    def two_sessions():
        first, second = Client(), Client()
        first.force_login(world.viewer)
        second.force_login(world.viewer)
        return first, second

    first, second = await sync_to_async(two_sessions)()
    cookie = settings.SESSION_COOKIE_NAME

    async def open_with(client: Client) -> WebsocketCommunicator:
        header = f"{cookie}={client.cookies[cookie].value}".encode()
        communicator = WebsocketCommunicator(application, "/ws/t/acme/events/", headers=[*ORIGIN, (b"cookie", header)])
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        return communicator

    signing_out, staying = await open_with(first), await open_with(second)
    assert await signing_out.receive_nothing(timeout=0.3) and await staying.receive_nothing(timeout=0.1)
    await sync_to_async(first.logout)()
    assert await signing_out.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
    assert await staying.receive_nothing(timeout=1)  # the other session is still signed in
    await staying.disconnect()


def _deactivate(user) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["deactivated", "deleted"])
async def test_a_user_switched_off_or_deleted_is_closed_with_4403_on_every_tenants_socket(world, how):
    execution = await sync_to_async(_execution)(world)
    events, connected = await _open("/ws/t/acme/events/", world.viewer)
    assert connected
    one, connected = await _open(f"/ws/t/acme/executions/{execution.pk}/", world.viewer)
    assert connected and (await one.receive_json_from(timeout=5))["kind"] == "execution.snapshot"
    other, connected = await _open("/ws/t/acme/events/", world.editor)
    assert connected
    await sync_to_async(_deactivate if how == "deactivated" else (lambda u: u.delete()))(world.viewer)
    for communicator in (events, one):
        message = await communicator.receive_output(timeout=5)
        assert message == {"type": "websocket.close", "code": 4403}, message
    assert await other.receive_nothing(timeout=0.5)  # another member's socket stays open
    await other.disconnect()
