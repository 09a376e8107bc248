"""Running circuits, reading executions, cancel / re-run / retry, events and metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from circuits.automation.dispatch import create_execution
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.automation.models.trigger import Event
from circuits.automation.services.versions import PublishDraft, SaveDraft
from tests.api.access import assert_problem
from tests.api.helpers import client_as, simple_circuit
from tests.engine.helpers import build, chain, node, run


@pytest.fixture
def operator(world):
    return client_as(world, "operator")


def test_execute_answers_at_once_with_the_queued_execution(world, operator, django_capture_on_commit_callbacks, monkeypatch):
    simple_circuit(world, "greeter")
    sent = []
    monkeypatch.setattr("circuits.automation.dispatch.send_to_worker", lambda pk, kind="default": sent.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post("/api/v1/execute", {"circuit_name": "greeter", "data": {"name": "Ada"}})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["trigger_type"] == "api" and body["input"] == {"name": "Ada"}
    assert body["started_by"] == "operator-a" and body["steps"] == []
    assert sent == [body["id"]]  # handed to a worker once committed


# Waiting for the outcome needs a worker to run the execution: tests/http/test_waiting_callers.py.


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("wait=true&timeout=soon", "is not a number"),
        ("wait=true&timeout=nan", "not NaN"),
        ("wait=true&timeout=-1", "greater than or equal to 0.1"),
        ("wait=true&timeout=0", "greater than or equal to 0.1"),
        ("wait=true&timeout=31", "less than or equal to 30 (API_WAIT_SECONDS)"),
        ("timeout=5", "Only with wait=true"),
    ],
)
def test_execute_refuses_a_wait_timeout_it_cannot_honour_naming_the_parameter(world, operator, settings, query, problem):
    settings.API_WAIT_SECONDS = 30
    simple_circuit(world, "greeter")
    body = assert_problem(operator.post(f"/api/v1/execute?{query}", {"circuit_name": "greeter"}), 400)
    assert list(body["errors"]) == ["timeout"] and problem in body["errors"]["timeout"][0], body
    assert not Execution.objects.exists()  # nothing started


def test_execute_refuses_what_cannot_run(world, operator):
    simple_circuit(world, "greeter")
    operator.post("/api/v1/circuits/greeter/disable")
    body = assert_problem(operator.post("/api/v1/execute", {"circuit_name": "greeter"}), 400)
    assert "disabled" in body["errors"]["circuit"][0]
    simple_circuit(world, "unpublished", publish=False)
    assert "published" in assert_problem(operator.post("/api/v1/execute", {"circuit_name": "unpublished"}), 400)["detail"]
    body = assert_problem(operator.post("/api/v1/execute", {"circuit_name": "greeter", "data": [1, 2]}), 400)
    assert "data" in body["errors"]
    assert_problem(operator.post("/api/v1/execute", {"circuit_name": "missing"}), 404)
    assert not Execution.objects.exists()


def test_execute_cannot_reach_another_tenants_circuit(world, operator):
    simple_circuit(world, "theirs", tenant=world.other_tenant, actor=world.outsider)
    assert_problem(operator.post("/api/v1/execute", {"circuit_name": "theirs"}), 404)
    assert not Execution.objects.exists()


def test_the_execution_list_filters(world, operator):
    greeter = simple_circuit(world, "greeter")
    other = simple_circuit(world, "other")
    ok = run(greeter, {"name": "a"})
    queued = create_execution(other, {})
    old = create_execution(greeter, {}, trigger_type="api")
    Execution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    theirs = simple_circuit(world, "theirs", tenant=world.other_tenant, actor=world.outsider)
    create_execution(theirs, {})

    def ids(query: str = "") -> list[int]:
        response = operator.get(f"/api/v1/executions{query}")
        assert response.status_code == 200, response.content
        return [e["id"] for e in response.json()["results"]]

    assert ids() == [queued.pk, ok.pk, old.pk]  # newest first, this tenant only
    assert ids("?circuit=greeter") == [ok.pk, old.pk]
    assert ids("?status=queued") == [queued.pk, old.pk]
    assert ids("?trigger=api") == [old.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"?created_after={since}") == [queued.pk, ok.pk]
    assert ids(f"?created_before={since}") == [old.pk]
    assert ids("?circuit=theirs") == []
    body = assert_problem(operator.get("/api/v1/executions?status=sleeping&created_after=yesterday"), 400)
    assert set(body["errors"]) == {"status", "created_after"}


def test_the_execution_list_pages_with_a_cursor(world, operator):
    greeter = simple_circuit(world, "greeter")
    made = [create_execution(greeter, {"n": i}).pk for i in range(5)]
    first = operator.get("/api/v1/executions?page_size=2").json()
    second = operator.get(first["next"]).json()
    third = operator.get(second["next"]).json()
    seen = [e["id"] for page in (first, second, third) for e in page["results"]]
    assert seen == list(reversed(made)) and third["next"] is None and second["previous"]
    assert_problem(operator.get("/api/v1/executions?cursor=garbage"), 404)


def test_the_execution_list_costs_a_fixed_number_of_queries(world, operator, django_assert_max_num_queries):
    for i in range(4):
        circuit = simple_circuit(world, f"c{i}")
        for _ in range(5):
            run(circuit, {"name": "x"})
    operator.get("/api/v1/executions")  # warm caches (content types, guardian)
    # auth (key + membership + last-used) + tenant-wide role + the page: whatever the page size
    with django_assert_max_num_queries(6):
        response = operator.get("/api/v1/executions?page_size=20")
    assert len(response.json()["results"]) == 20


def test_an_execution_reads_with_its_steps(world, operator):
    execution = run(simple_circuit(world, "greeter"), {"name": "Ada"})
    body = operator.get(f"/api/v1/executions/{execution.pk}").json()
    assert body["status"] == "succeeded" and body["output"] == {"hello": "Ada"} and body["input"] == {"name": "Ada"}
    assert [(s["node_key"], s["status"], s["output"]) for s in body["steps"]] == [("greet", "succeeded", {"hello": "Ada"})]


def test_cancel_rerun_and_retry(world, operator):
    greeter = simple_circuit(world, "greeter")
    queued = create_execution(greeter, {"name": "Q"})
    cancelled = operator.post(f"/api/v1/executions/{queued.pk}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    body = assert_problem(operator.post(f"/api/v1/executions/{queued.pk}/cancel"), 400)
    assert "status" in body["errors"]

    done = run(greeter, {"name": "R"})
    rerun = operator.post(f"/api/v1/executions/{done.pk}/rerun")
    assert rerun.status_code == 201 and rerun.json()["rerun_of"] == done.pk and rerun.json()["status"] == "queued"

    assert_problem(operator.post(f"/api/v1/executions/{done.pk}/retry"), 400)  # it did not fail
    retried = operator.post(f"/api/v1/executions/{queued.pk}/retry")  # cancelled counts
    assert retried.status_code == 201 and retried.json()["rerun_of"] == queued.pk


def test_a_disabled_circuit_cannot_be_run_again_through_rerun_or_retry(world, operator):
    # Disabling is the circuit's off switch: starting it again must not slip past it by re-running an old execution.
    greeter = simple_circuit(world, "greeter")
    done = run(greeter, {"name": "R"})
    cancelled = create_execution(greeter, {"name": "Q"})
    Execution.objects.cancel(cancelled, error={"message": "stop", "type": "cancelled"})
    operator.post("/api/v1/circuits/greeter/disable")
    for path in (f"/api/v1/executions/{done.pk}/rerun", f"/api/v1/executions/{cancelled.pk}/retry"):
        body = assert_problem(operator.post(path), 400)
        assert "disabled" in body["errors"]["circuit"][0], body
    assert not Execution.objects.filter(rerun_of__isnull=False).exists()


def test_retry_keeps_the_finished_steps(world, operator):
    circuit = build(world, "two", [node("a", "util.transform", {"template": "A"}), node("b", "util.transform", {"template": "B"})], chain("a", "b"))
    execution = run(circuit, {})
    StepRun.objects.filter(execution=execution, node_key="b").update(status="failed", port="", error={"message": "x"})
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.FAILED)
    retry = operator.post(f"/api/v1/executions/{execution.pk}/retry").json()
    kept = StepRun.objects.filter(execution_id=retry["id"]).values_list("node_key", flat=True)
    assert list(kept) == ["a"]


def test_retry_on_the_published_version_runs_the_fix_and_keeps_only_unchanged_steps(world, operator):
    nodes = [node("a", "util.transform", {"template": "A"}), node("b", "util.transform", {"template": "{{ trigger.missing + 1 }}"})]
    circuit = build(world, "fix-me", nodes, chain("a", "b"))
    failed = run(circuit, {})
    SaveDraft(world.tenant, world.owner, circuit, {"nodes": [nodes[0], node("b", "util.transform", {"template": "B"})], "edges": chain("a", "b")}).execute()
    PublishDraft(world.tenant, world.owner, circuit).execute()
    original = operator.post(f"/api/v1/executions/{failed.pk}/retry").json()
    assert original["version"] == 1
    published = operator.post(f"/api/v1/executions/{failed.pk}/retry", {"version": "published"}, format="json")
    assert published.status_code == 201 and published.json()["version"] == 2 and published.json()["rerun_of"] == failed.pk
    assert list(StepRun.objects.filter(execution_id=published.json()["id"]).values_list("node_key", flat=True)) == ["a"]


def test_retry_refuses_an_unknown_version_and_unknown_fields_naming_them(world, operator):
    circuit = build(world, "fails", [node("b", "util.transform", {"template": "{{ trigger.missing + 1 }}"})], chain("b"))
    failed = run(circuit, {})
    body = assert_problem(operator.post(f"/api/v1/executions/{failed.pk}/retry", {"version": "latest"}, format="json"), 400)
    assert list(body["errors"]) == ["version"]
    body = assert_problem(operator.post(f"/api/v1/executions/{failed.pk}/retry", {"versoin": "published"}, format="json"), 400)
    assert list(body["errors"]) == ["versoin"]
    circuit.versions.update(status="archived")
    body = assert_problem(operator.post(f"/api/v1/executions/{failed.pk}/retry", {"version": "published"}, format="json"), 400)
    assert "no published version" in body["errors"]["version"][0]
    assert not Execution.objects.filter(rerun_of=failed).exists()


def test_publishing_an_event_starts_the_listening_circuits(world, operator):
    simple_circuit(world, "listener", triggers=[{"type": "event", "config": {"event": "invoice.paid"}}])
    simple_circuit(world, "deaf")
    simple_circuit(world, "theirs", tenant=world.other_tenant, actor=world.outsider, triggers=[{"type": "event", "config": {"event": "invoice.paid"}}])
    response = operator.post("/api/v1/events/publish", {"event": "invoice.paid", "data": {"amount": 12}})
    assert response.status_code == 201
    body = response.json()
    assert body["event"]["name"] == "invoice.paid" and body["event"]["source"].startswith("api:key:")
    assert [e["circuit"] for e in body["executions"]] == ["listener"]
    assert Event.objects.get(pk=body["event"]["id"]).payload == {"amount": 12}
    assert Execution.objects.filter(tenant=world.other_tenant).count() == 0
    assert "event" in assert_problem(operator.post("/api/v1/events/publish", {"event": "has spaces"}), 400)["errors"]


def test_the_event_catalogue_lists_builtin_and_custom_events(world, operator):
    from circuits.automation.models.trigger import CustomEventType

    CustomEventType.objects.create(tenant=world.tenant, name="deal.signed", description="Ours")
    CustomEventType.objects.create(tenant=world.other_tenant, name="their.event")
    names = {e["name"]: e["builtin"] for e in operator.get("/api/v1/events").json()}
    assert names["lead.created"] is True and names["deal.signed"] is False and "their.event" not in names


def test_metrics_per_circuit_and_reset_by_admins(world):
    greeter = simple_circuit(world, "greeter")
    for _ in range(3):
        run(greeter, {"name": "x"})
    failed = create_execution(greeter, {})
    Execution.objects.filter(pk=failed.pk).update(status=ExecutionStatus.FAILED)
    viewer = client_as(world, "viewer")
    rows = viewer.get("/api/v1/metrics?hours=1").json()["circuits"]
    assert len(rows) == 1 and rows[0]["circuit"] == "greeter" and rows[0]["total"] == 4
    assert rows[0]["by_status"]["succeeded"] == 3 and rows[0]["success_rate"] == 0.75 and rows[0]["p50_ms"] is not None
    assert viewer.get("/api/v1/metrics?circuit=nothing").json()["circuits"] == []
    assert "hours" in assert_problem(viewer.get("/api/v1/metrics?hours=-1"), 400)["errors"]
    assert_problem(viewer.post("/api/v1/metrics/reset"), 403)
    reset = client_as(world, "admin").post("/api/v1/metrics/reset")
    assert reset.status_code == 200 and reset.json()["metrics_since"]
    assert viewer.get("/api/v1/metrics").json()["circuits"] == []
