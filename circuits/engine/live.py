"""Live updates: every execution/step state change goes to two Channels groups.

`execution.<id>` (the builder and the execution page) and `tenant.<id>` (lists and
dashboards). A failure to publish never fails an execution: the database is the truth and
pages catch up from it when they (re)connect.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def execution_group(execution_id: int) -> str:
    return f"execution.{execution_id}"


def tenant_group(tenant_id: int) -> str:
    return f"tenant.{tenant_id}"


def publish(tenant_id: int, execution_id: int | None, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "circuit.event", "event": event}
    try:
        if execution_id is not None:
            async_to_sync(layer.group_send)(execution_group(execution_id), message)
        async_to_sync(layer.group_send)(tenant_group(tenant_id), message)
    except Exception:  # the live view is best-effort; the DB has the state
        log.warning("could not publish live event %s", event.get("kind"), exc_info=True)
