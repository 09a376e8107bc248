"""/health tells the truth while WebSockets are open.

Before: the channel-layer probe used a channel of its own prefix ("health.…!"). channels_redis
serves every process-local channel through one receive lock, held by whichever consumer is
waiting on its "specific.…!" list, so the probe's message sat in a list nobody read until
the 2 s timeout: /health was 503 "channel_layer down" whenever a page had a live socket.
"""

from __future__ import annotations

import httpx
import pytest
from channels.testing import WebsocketCommunicator

from circuitos_site.asgi import application
from tests.fixtures import needs_redis
from tests.http.conftest import session_cookie
from tests.http.wsclient import LiveSocket

pytestmark = needs_redis()  # the in-memory layer never had the problem; production runs Redis


@pytest.mark.django_db(transaction=True)
async def test_health_is_up_while_a_websocket_consumer_waits_on_the_channel_layer_in_the_same_process(world):
    communicator = WebsocketCommunicator(application, "/ws/t/acme/events/", headers=[(b"origin", b"http://localhost")])
    communicator.scope["user"] = world.viewer
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://localhost") as client:
            response = await client.get("/health")
    finally:
        await communicator.disconnect()
    body = response.json()
    assert response.status_code == 200, body
    assert body["components"]["channel_layer"] == {"status": "up", "backend": "RedisChannelLayer"}


def test_the_live_server_reports_up_with_several_real_websockets_open(live_daphne, transactional_db, world):
    cookie = session_cookie(world.viewer)
    sockets = [LiveSocket(live_daphne.host, live_daphne.port, "/ws/t/acme/events/", cookie) for _ in range(3)]
    try:
        for socket in sockets:
            assert socket.next_event() == {"event": "open"}, socket.events
        for _ in range(3):  # more than once: the first answer is no accident of timing
            response = httpx.get(live_daphne.url + "/health", timeout=15)
            assert response.status_code == 200, response.text
            assert response.json()["components"]["channel_layer"]["status"] == "up"
    finally:
        for socket in sockets:
            socket.close()
