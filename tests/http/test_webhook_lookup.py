"""A webhook's trigger, circuit and published version come from the web process's memory after
the first call, and a change made anywhere (here: the test process, another process than the
server's) is seen by the next call: a newly published version runs, a disabled trigger or
circuit is refused, a deleted trigger is not found.

Before: every delivery read the trigger, asked whether a version was published, then read it.
"""

from __future__ import annotations

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from circuits.automation.models.execution import Execution
from circuits.automation.services.circuits import SetCircuitEnabled
from circuits.automation.services.versions import DeleteTrigger, PublishDraft, SaveDraft, SaveTrigger
from tests.engine.helpers import build, chain, node, published
from tests.fixtures import needs_postgres, needs_redis


def _hook(world, slug: str):
    circuit = build(world, slug, [node("out", "util.transform", {"template": "one"})], chain("out"), triggers=[{"type": "webhook"}])
    return circuit, circuit.triggers.get()


def _publish_new_version(world, circuit) -> int:
    SaveDraft(world.tenant, world.owner, circuit, {"nodes": [node("out", "util.transform", {"template": "two"})], "edges": chain("out")}).execute()
    PublishDraft(world.tenant, world.owner, circuit).execute()
    return published(circuit).pk


@pytest.mark.django_db
def test_a_second_delivery_reads_neither_the_trigger_nor_the_version_from_the_database(client, world):
    _circuit, trigger = _hook(world, "hook-memory")
    url = f"/hooks/{trigger.webhook_token}"
    assert client.post(url, {}, content_type="application/json").status_code == 202
    with CaptureQueriesContext(connection) as queries:
        assert client.post(url, {}, content_type="application/json").status_code == 202
    read = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert not [sql for sql in read if "circuitversion" in sql or '"circuits_trigger"' in sql.split("WHERE")[0]], read


@needs_postgres()
@needs_redis()
def test_the_live_server_runs_a_newly_published_version_and_refuses_a_disabled_or_deleted_webhook(live_daphne, transactional_db, world):
    circuit, trigger = _hook(world, "hook-live")
    url = f"{live_daphne.url}/hooks/{trigger.webhook_token}"
    first_version = published(circuit).pk

    def deliver() -> httpx.Response:
        return httpx.post(url, json={"n": 1}, timeout=10)

    for _ in range(2):  # the second comes from the server's memory
        response = deliver()
        assert response.status_code == 202, response.text
        assert Execution.objects.get(pk=response.json()["execution_id"]).version_id == first_version

    second_version = _publish_new_version(world, circuit)
    response = deliver()
    assert response.status_code == 202, response.text
    assert Execution.objects.get(pk=response.json()["execution_id"]).version_id == second_version

    SaveTrigger(world.tenant, world.owner, circuit, type="webhook", config=trigger.config, enabled=False, trigger=trigger).execute()
    assert deliver().status_code == 409
    SaveTrigger(world.tenant, world.owner, circuit, type="webhook", config=trigger.config, enabled=True, trigger=trigger).execute()
    assert deliver().status_code == 202

    SetCircuitEnabled(world.tenant, world.owner, circuit, False).execute()
    assert deliver().status_code == 409
    SetCircuitEnabled(world.tenant, world.owner, circuit, True).execute()
    assert deliver().status_code == 202

    trigger.refresh_from_db()
    DeleteTrigger(world.tenant, world.owner, trigger).execute()
    assert deliver().status_code == 404
