"""GET /health: the state of the database, the channel layer and the task queue.

The channel-layer probe receives the way the WebSocket consumers of this process do — on
the server's event loop (the view is async; channels_redis refuses a second loop receiving
while a consumer waits) and on a channel of the consumers' own prefix (see below). Before,
/health said "down" whenever a page had a live socket open, so a load balancer would have
pulled every busy instance. The blocking checks (database, broker) run in threads.
"""

from __future__ import annotations

import asyncio
import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from circuitos_site.celery import app as celery_app

CHANNEL_TIMEOUT_SECONDS = 2.0


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        return _describe(exc)
    return None


async def _channel_roundtrip() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    # The default prefix, as the consumers': channels_redis serves every process-local
    # channel from one Redis list per prefix, and a consumer waiting on "specific.…!" holds
    # the one receive lock, so a "health.…!" channel would wait for its own list until
    # that consumer's BRPOP timed out (the probe said "down" while a socket was open).
    channel = await layer.new_channel()
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=CHANNEL_TIMEOUT_SECONDS)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned a different message")


async def check_channel_layer() -> str | None:
    """A message sent to a fresh channel and received back, on the running loop."""
    try:
        await asyncio.wait_for(_channel_roundtrip(), timeout=CHANNEL_TIMEOUT_SECONDS + 1)
    except Exception as exc:
        return _describe(exc)
    return None


def check_task_queue() -> str | None:
    try:
        with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:
        return _describe(exc)
    return None


@never_cache
@require_GET
async def health(request):
    # The database check shares Django's sync thread (its connection lives there); the broker
    # check may wait for a timeout, so it runs in its own thread and never holds that one.
    database, channel_layer, task_queue = await asyncio.gather(
        sync_to_async(check_database, thread_sensitive=True)(),
        check_channel_layer(),
        sync_to_async(check_task_queue, thread_sensitive=False)(),
    )
    errors = {"database": database, "channel_layer": channel_layer, "task_queue": task_queue}
    components = {name: {"status": "up"} if error is None else {"status": "down", "error": error} for name, error in errors.items()}
    components["database"]["engine"] = connection.vendor
    components["channel_layer"]["backend"] = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    components["task_queue"]["broker"] = settings.CELERY_BROKER_URL.split("://", 1)[0]
    down = sorted(name for name, c in components.items() if c["status"] == "down")
    body = {"status": "down" if down else "up", "down": down, "components": components}
    return JsonResponse(body, status=503 if down else 200)
