"""Run a circuit the way its own trigger runs it, on the least data that trigger can carry.

"Least data" is a record with only its type's required fields (plus, for a threshold trigger,
the watched field on the watched side of the threshold: without it nothing fires) and an
empty body or payload for webhooks, API calls and schedules. Everything goes through the real
paths: record writes (whose commit fires the triggers), the webhook endpoint, the API, the
scheduler, and the engine on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.models.trigger import Trigger
from circuits.automation.triggers.kinds.event import publish_event
from circuits.automation.triggers.kinds.schedule import fire_due
from circuits.records.models import Record
from circuits.records.service import CreateRecord, DeleteRecord, UpdateRecord
from circuits.records.types import FieldDef, get_type
from tests.api.helpers import client_as
from tests.engine.helpers import drain

_VALUES: dict[str, Any] = {
    "string": "x",
    "text": "x",
    "email": "min@example.test",
    "url": "https://example.test/",
    "date": "2026-01-01",
    "datetime": "2026-01-01T00:00:00Z",
    "boolean": False,
    "integer": 1,
    "number": 1,
}
# Addresses the tests may reach: the machine itself.
_OFF_MACHINE = re.compile(r"\bhttps?://(?!127\.0\.0\.1[:/]|localhost[:/])[^\s\"']+")


def _value(field: FieldDef) -> Any:
    if field.type == "choice":
        return field.choices[0]
    if field.type in ("integer", "number") and field.min is not None:
        return field.min
    return _VALUES[field.type]


def minimal_record(tenant, object_type: str) -> dict:
    """A record of `object_type` with only its required fields."""
    return {f.name: _value(f) for f in get_type(tenant, object_type).fields if f.required}


def off_machine_urls(document: dict) -> list[str]:
    """URLs in the document's step configs that would leave the machine."""
    return _OFF_MACHINE.findall(json.dumps([n.get("config", {}) for n in document["nodes"]]))


def fire(world, circuit: Circuit, trigger: Trigger, client: Client) -> list[Execution]:
    """Fire `trigger` with minimal data; every execution it (and what it started) ran, finished."""
    before = set(Execution.objects.values_list("pk", flat=True))
    config = trigger.config or {}
    tenant, actor = world.tenant, world.owner
    if trigger.type in ("record_change", "before_save"):
        object_type, on = config["object_type"], config.get("on", ["created"])
        record = CreateRecord(tenant, actor, object_type, minimal_record(tenant, object_type)).execute()
        if "created" not in on and "updated" in on:
            kind = get_type(tenant, object_type)
            field = kind.field((config.get("fields") or [f.name for f in kind.fields if not f.required])[0])
            UpdateRecord(tenant, actor, Record.objects.get(pk=record.pk), {field.name: _value(field)}).execute()
        elif "created" not in on:
            DeleteRecord(tenant, actor, Record.objects.get(pk=record.pk)).execute()
    elif trigger.type == "threshold":
        object_type, value = config["object_type"], config["value"]
        data = minimal_record(tenant, object_type)
        data[config["field"]] = value if config.get("direction", "above") == "above" else value - 1
        CreateRecord(tenant, actor, object_type, data).execute()
    elif trigger.type == "schedule":
        Trigger.objects.filter(pk=trigger.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
        assert fire_due() >= 1
    elif trigger.type == "webhook":
        response = client.post(f"/hooks/{trigger.webhook_token}", "{}", content_type="application/json")
        assert response.status_code in (200, 202), response.content
    elif trigger.type in ("api", "manual"):
        response = client_as(world, "operator").post("/api/v1/execute?wait=true", {"circuit_name": circuit.slug, "data": {}}, format="json")
        assert response.status_code in (200, 202), response.content
    elif trigger.type == "event":
        publish_event(tenant, config["event"], {})
    else:
        raise AssertionError(f"no minimal run for a {trigger.type!r} trigger yet: add one to tests/demo/minimal.py")
    drain()
    return list(Execution.objects.exclude(pk__in=before).order_by("pk"))
