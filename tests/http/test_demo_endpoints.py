"""The demo endpoints as a caller uses them: real daphne, a real Celery worker, PostgreSQL + Redis.

`POST /api/v1/demo/lead-processing` creates the sample lead; its trigger starts Lead Processing
AI, the worker runs every step against the demo's local site, feed, documents, model, graph and
Slack inbox, and the caller gets the finished execution with each step's output.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.core.management import call_command

from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.tenancy.models.tenants import Membership, Tenant
from tests.api.helpers import make_key
from tests.engine.workers import start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis
from tests.http.conftest import LiveDaphne, launch_server, stop_server

pytestmark = [needs_postgres(), needs_redis()]


@pytest.fixture(scope="module")
def demo_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveDaphne]:
    """A server with the demo endpoints on, and a worker on its queue."""
    with django_db_blocker.unblock():
        server = launch_server("demo-api", tmp_path_factory.mktemp("demo-api"), {"DEMO_ENDPOINTS": "1", "DB_CONN_MAX_AGE": "0"})
        worker = start_worker(server.queue, log="demo-api-worker.log")
    yield server
    stop(worker)
    stop_server(server)


@pytest.fixture
def owner_key(demo_server, transactional_db, settings, tmp_path) -> Iterator[str]:
    settings.VAR_DIR = tmp_path
    call_command("load_demo", base_url=demo_server.url, stdout=open("/dev/null", "w"))  # noqa: SIM115
    tenant = Tenant.objects.get(slug="acme")
    yield make_key(tenant, Membership.objects.get(tenant=tenant, role="owner").user, "owner")
    # The same lead starts other demo circuits, which the worker runs after the answer: let them
    # end before the test's flush, which would otherwise race their writes (a deadlock).
    active = Execution.objects.filter(status__in=[ExecutionStatus.QUEUED, ExecutionStatus.RUNNING])
    wait_for(lambda: not active.exists(), timeout=90, what="the demo's other executions to end")


def post(server: LiveDaphne, key: str, path: str, body=None) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/demo/{path}", json=body or {}, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def test_the_sample_lead_runs_lead_processing_ai_to_an_opportunity_and_the_caller_gets_every_steps_output(demo_server, owner_key):
    response = post(demo_server, owner_key, "lead-processing")
    assert response.status_code == 200, response.text
    body = response.json()
    execution = body["execution"]
    assert execution["circuit"] == "lead-processing-ai" and execution["status"] == "succeeded", execution["error"]
    steps = {s["node_key"]: s for s in execution["steps"]}
    assert [k for k, s in steps.items() if s["status"] != "succeeded"] == []
    assert set(steps) == {"lead", "site", "news", "intel", "score", "competitors", "hot", "opportunity", "qualify", "slack"}
    assert steps["site"]["output"]["title"].startswith("Initech") and steps["news"]["output"]["count"] == 2
    assert steps["intel"]["output"]["passages"][0]["title"] == "Initech — account brief"
    assert steps["score"]["output"]["cold_start"] is False and "Soylent Data" in steps["competitors"]["output"]["names"]
    assert body["lead"]["email"] == "ada@initech.example" and body["lead"]["status"] == "qualified"
    assert steps["opportunity"]["output"]["name"] == "Initech — Ada Lovelace" and steps["slack"]["output"]["ok"] is True


def test_the_hot_lead_endpoint_runs_hot_lead_alert_with_the_models_view(demo_server, owner_key):
    response = post(demo_server, owner_key, "hot-lead", {"email": "grace@hooli.example", "company": "Hooli", "title": "Head of Operations"})
    assert response.status_code == 200, response.text
    execution = response.json()["execution"]
    assert execution["circuit"] == "hot-lead-alert" and execution["status"] == "succeeded", execution["error"]
    steps = {s["node_key"]: s for s in execution["steps"]}
    assert {k: s["status"] for k, s in steps.items()} == dict.fromkeys(["model", "alert", "slack", "email", "task"], "succeeded")
    assert 0 < steps["model"]["output"]["score"] < 1 and steps["model"]["output"]["explanation"]["top"]
