"""GET /health: the state of the database, the channel layer and the task queue."""

from __future__ import annotations

import asyncio
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from circuitos_site.celery import app as celery_app


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        return f"{type(exc).__name__}: {exc}"
    return None


async def _channel_roundtrip() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("health.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned a different message")


def check_channel_layer() -> str | None:
    try:
        async_to_sync(_channel_roundtrip)()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None


def check_task_queue() -> str | None:
    try:
        with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


CHECKS = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "task_queue": check_task_queue,
}


@never_cache
@require_GET
def health(request):
    components = {}
    for name, check in CHECKS.items():
        error = check()
        components[name] = {"status": "up"} if error is None else {"status": "down", "error": error}
    components["database"]["engine"] = connection.vendor
    components["channel_layer"]["backend"] = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    components["task_queue"]["broker"] = settings.CELERY_BROKER_URL.split("://", 1)[0]
    down = sorted(name for name, c in components.items() if c["status"] == "down")
    body = {"status": "down" if down else "up", "down": down, "components": components}
    return JsonResponse(body, status=503 if down else 200)
