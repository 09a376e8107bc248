"""Test runs of a draft through /api/v1: with a payload, and by listening for the webhook's test URL.

Real database, real engine (run_now runs the queued execution the way a worker does), the
webhook's real test URL (circuits/web/webhooks.py) and the shared cache behind the listen.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from circuits.automation.engine.runner import run_now
from circuits.automation.models.execution import Execution
from circuits.automation.services.versions import SaveDraft
from circuits.web.api.parsers import max_body_bytes
from tests.api.access import assert_problem
from tests.api.helpers import client_as, session_client
from tests.engine.helpers import build, chain, node

pytestmark = pytest.mark.django_db


def greeter(world, slug: str = "greeter", triggers=(), reads: str = "trigger.name"):
    circuit = build(world, slug, [node("greet", "util.transform", {"template": {"hello": "{{ trigger.name }}"}})], chain("greet"), triggers=triggers)
    # The draft differs from the published version: a test run must run the draft.
    draft = {"nodes": [node("greet", "util.transform", {"template": {"hi": "{{ " + reads + " }}"}})], "edges": chain("greet")}
    SaveDraft(world.tenant, world.owner, circuit, draft).execute()
    return circuit


def test_a_test_run_runs_the_draft_with_the_payload_and_is_queued_for_a_worker(world, django_capture_on_commit_callbacks):
    circuit = greeter(world)
    with django_capture_on_commit_callbacks() as callbacks:
        answer = client_as(world, "operator").post("/api/v1/circuits/greeter/test-runs", {"payload": {"name": "Ada"}}, format="json")
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["status"] == "queued" and body["is_test"] and body["version"] == 2 and body["only_node"] is None
    assert answer["Location"] == body["url"] and body["url"].endswith(f"/api/v1/executions/{body['id']}")
    assert len(callbacks) == 1  # handed to a worker on commit, not run inside the request
    execution = run_now(Execution.objects.get(pk=body["id"]))
    assert execution.status == "succeeded", execution.error
    assert execution.output == {"hi": "Ada"} and execution.circuit_id == circuit.pk


def test_the_browser_session_with_csrf_and_x_tenant_can_start_a_test_run(world):
    greeter(world)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.operator)
    refused = browser.post("/api/v1/circuits/greeter/test-runs", "{}", content_type="application/json", HTTP_X_TENANT="acme")
    assert_problem(refused, 403)  # no CSRF token: a cross-site form cannot start runs
    browser.get("/t/acme/circuits/greeter/edit")  # the page sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    answer = browser.post("/api/v1/circuits/greeter/test-runs", "{}", content_type="application/json", HTTP_X_TENANT="acme", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 202, answer.content


def test_a_payload_that_is_not_an_object_is_a_400_naming_payload_and_nothing_is_created(world):
    greeter(world)
    operator = client_as(world, "operator")
    body = assert_problem(operator.post("/api/v1/circuits/greeter/test-runs", {"payload": [1, 2]}, format="json"), 400)
    assert "payload" in body["errors"]
    body = assert_problem(operator.post("/api/v1/circuits/greeter/test-runs", {"payload": {}, "wat": 1}, format="json"), 400)
    assert "wat" in body["errors"]
    assert not Execution.objects.exists()


def test_nan_and_a_huge_payload_are_refused_before_anything_runs(world):
    greeter(world)
    operator = client_as(world, "operator")
    nan = operator.post("/api/v1/circuits/greeter/test-runs", '{"payload": {"score": NaN}}', content_type="application/json")
    assert "NaN" in assert_problem(nan, 400)["detail"]
    huge = json.dumps({"payload": {"blob": "x" * (max_body_bytes() + 10)}})
    assert_problem(operator.post("/api/v1/circuits/greeter/test-runs", huge, content_type="application/json"), 413)
    assert not Execution.objects.exists()


def test_an_invalid_draft_is_refused_with_its_graph_errors(world):
    circuit = greeter(world)
    SaveDraft(world.tenant, world.owner, circuit, {"nodes": [node("greet", "util.nope", {})], "edges": chain("greet")}).execute()
    body = assert_problem(client_as(world, "operator").post("/api/v1/circuits/greeter/test-runs", {}, format="json"), 400)
    assert "util.nope" in body["detail"]
    assert not Execution.objects.exists()


def test_a_viewer_cannot_start_a_test_run_and_another_tenants_circuit_is_404(world):
    greeter(world)
    assert_problem(client_as(world, "viewer").post("/api/v1/circuits/greeter/test-runs", {}, format="json"), 403)
    assert_problem(session_client(world.outsider, "acme").post("/api/v1/circuits/greeter/test-runs", {}, format="json"), 404)
    assert not Execution.objects.exists()


# --- listening for a test event -----------------------------------------------------------------

LISTEN = "/api/v1/circuits/hooked/test-runs/listen"


def test_listening_takes_the_next_real_call_to_the_test_url_as_the_test_run(world):
    greeter(world, "hooked", triggers=[{"type": "webhook"}], reads="trigger.body.name")
    operator = client_as(world, "operator")
    started = operator.post(LISTEN, format="json")
    assert started.status_code == 200, started.content
    listen, test_url = started.json()["listen"], started.json()["test_url"]
    assert started.json()["seconds"] > 0 and test_url.endswith("/test")
    assert operator.get(f"{LISTEN}?listen={listen}").json() == {"waiting": True}
    call = Client().post(test_url.split("testserver", 1)[1], json.dumps({"name": "Hook"}), content_type="application/json")
    assert call.status_code == 202, call.content
    result = operator.get(f"{LISTEN}?listen={listen}").json()
    execution = Execution.objects.get(pk=result["execution"])
    assert execution.is_test and execution.trigger_type == "webhook" and execution.input["body"] == {"name": "Hook"}
    assert run_now(execution).output == {"hi": "Hook"}  # the call's JSON arrives as trigger.body
    # One call per listen: the next one is refused.
    assert Client().post(test_url.split("testserver", 1)[1], "{}", content_type="application/json").status_code == 404


def test_cancelling_a_listen_makes_the_test_url_refuse_calls(world):
    greeter(world, "hooked", triggers=[{"type": "webhook"}])
    operator = client_as(world, "operator")
    started = operator.post(LISTEN, format="json").json()
    assert operator.delete(f"{LISTEN}?listen={started['listen']}").status_code == 204
    assert operator.get(f"{LISTEN}?listen={started['listen']}").json() == {"waiting": False}
    assert Client().post(started["test_url"].split("testserver", 1)[1], "{}", content_type="application/json").status_code == 404
    assert not Execution.objects.exists()


def test_listening_needs_a_webhook_trigger_and_a_listen_id(world):
    greeter(world)
    operator = client_as(world, "operator")
    assert "trigger" in assert_problem(operator.post("/api/v1/circuits/greeter/test-runs/listen", format="json"), 400)["errors"]
    greeter(world, "hooked", triggers=[{"type": "webhook"}])
    assert "listen" in assert_problem(operator.get(LISTEN), 400)["errors"]
    assert "listen" in assert_problem(operator.delete(LISTEN), 400)["errors"]


def test_a_viewer_cannot_listen_and_another_tenant_cannot_see_the_listen(world):
    greeter(world, "hooked", triggers=[{"type": "webhook"}])
    assert_problem(client_as(world, "viewer").post(LISTEN, format="json"), 403)
    assert_problem(client_as(world, "viewer").get(f"{LISTEN}?listen=x"), 403)
    assert_problem(session_client(world.outsider, "acme").post(LISTEN, format="json"), 404)
