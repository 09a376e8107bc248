"""Running ONE node of the draft alone through /api/v1 (RunNodeAlone, Execution.only_node).

Real database and the real engine: run_now runs the queued execution as a worker would, and
the engine must run that node and nothing before or after it.
"""

from __future__ import annotations

import json

import pytest

from circuits.automation.engine.runner import run_now
from circuits.automation.models.execution import Execution
from circuits.automation.services.versions import SaveDraft
from circuits.web.api.parsers import max_body_bytes
from tests.api.access import assert_problem
from tests.api.helpers import client_as, key_client, make_key, session_client
from tests.engine.helpers import build, chain, node

pytestmark = pytest.mark.django_db
RUN = "/api/v1/circuits/scoring/draft/nodes/{}/run"


def scoring(world, *, pinned_score: bool = True):
    """trigger → score (pinned) → notify (reads steps.score) → after; only the draft has them all."""
    circuit = build(world, "scoring", [node("score", "util.transform", {"template": {"score": 1}})], chain("score"))
    score = node("score", "util.transform", {"template": {"score": "{{ trigger.points }}"}})
    if pinned_score:
        score["pinned"] = {"output": {"score": 80}, "port": "next"}
    nodes = [
        score,
        node("notify", "util.transform", {"template": {"text": "{{ trigger.name }} scored {{ steps.score.output.score }}"}}),
        node("after", "util.transform", {"template": {"seen": True}}),
    ]
    SaveDraft(world.tenant, world.owner, circuit, {"nodes": nodes, "edges": chain("score", "notify", "after")}).execute()
    return circuit


def ran(execution: Execution) -> dict[str, tuple[str, object]]:
    return {s.node_key: (s.status, s.output) for s in execution.steps.order_by("pk")}


def test_a_node_runs_alone_with_its_upstream_steps_pinned_data(world):
    scoring(world)
    answer = client_as(world, "operator").post(RUN.format("notify"), {"trigger": {"name": "Ada"}}, format="json")
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["only_node"] == "notify" and body["is_test"] and body["version"] == 2 and answer["Location"] == body["url"]
    execution = run_now(Execution.objects.get(pk=body["id"]))
    assert execution.status == "succeeded", execution.error
    # The pinned step is there as a finished step (it did not run); `after` never ran.
    assert ran(execution) == {"score": ("succeeded", {"score": 80}), "notify": ("succeeded", {"text": "Ada scored 80"})}
    assert execution.output == {"text": "Ada scored 80"}
    assert any(entry.get("pinned") for entry in execution.steps.get(node_key="score").logs)


def test_input_sent_with_the_run_wins_over_the_pinned_data(world):
    scoring(world)
    answer = client_as(world, "operator").post(RUN.format("notify"), {"trigger": {"name": "Bo"}, "steps": {"score": {"score": 5}}}, format="json")
    execution = run_now(Execution.objects.get(pk=answer.json()["id"]))
    assert execution.output == {"text": "Bo scored 5"}
    assert any(entry.get("given") for entry in execution.steps.get(node_key="score").logs)


def test_a_node_run_alone_ignores_its_own_pinned_data_and_runs_for_real(world):
    scoring(world)
    # `score` is pinned, but run alone it renders its template with the trigger sent.
    answer = client_as(world, "operator").post(RUN.format("score"), {"trigger": {"points": 42}}, format="json")
    execution = run_now(Execution.objects.get(pk=answer.json()["id"]))
    assert ran(execution) == {"score": ("succeeded", {"score": 42})}


def test_without_a_trigger_the_latest_test_runs_payload_is_used(world):
    scoring(world)
    operator = client_as(world, "operator")
    first = operator.post("/api/v1/circuits/scoring/test-runs", {"payload": {"name": "Cy"}}, format="json").json()
    run_now(Execution.objects.get(pk=first["id"]))
    answer = operator.post(RUN.format("notify"), {}, format="json")
    assert run_now(Execution.objects.get(pk=answer.json()["id"])).output == {"text": "Cy scored 80"}


def test_a_failing_node_fails_the_run_alone_and_says_why(world):
    circuit = scoring(world)
    broken = {
        "nodes": [
            node("score", "util.transform", {"template": {"s": 1}}, pinned={"output": {"s": 1}}),
            node("boom", "util.transform", {"template": "{{ 1 / 0 }}"}),
        ],
        "edges": chain("score", "boom"),
    }
    SaveDraft(world.tenant, world.owner, circuit, broken, base_revision=circuit.versions.get(status="draft").revision).execute()
    answer = client_as(world, "operator").post(RUN.format("boom"), {}, format="json")
    execution = run_now(Execution.objects.get(pk=answer.json()["id"]))
    assert execution.status == "failed" and execution.error["node"] == "boom"
    assert ran(execution)["boom"][0] == "failed"


def test_a_node_whose_pinned_input_is_missing_is_a_400_naming_steps_and_nothing_is_created(world):
    scoring(world, pinned_score=False)
    body = assert_problem(client_as(world, "operator").post(RUN.format("notify"), {}, format="json"), 400)
    assert "'score'" in body["errors"]["steps"][0] and "pin" in body["errors"]["steps"][0]
    assert not Execution.objects.exists()


def test_an_unknown_node_key_or_step_is_a_400_and_nothing_is_created(world):
    scoring(world)
    operator = client_as(world, "operator")
    body = assert_problem(operator.post(RUN.format("nope"), {}, format="json"), 400)
    assert "no step 'nope'" in body["errors"]["node"][0]
    body = assert_problem(operator.post(RUN.format("notify"), {"steps": {"ghost": {}}}, format="json"), 400)
    assert "'ghost'" in body["errors"]["steps"][0]
    body = assert_problem(operator.post(RUN.format("notify"), {"steps": [1]}, format="json"), 400)
    assert "steps" in body["errors"]
    body = assert_problem(operator.post(RUN.format("notify"), {"trigger": "x", "extra": 1}, format="json"), 400)
    assert {"trigger", "extra"} <= set(body["errors"])
    assert not Execution.objects.exists()


def test_a_loop_cannot_run_alone(world):
    circuit = build(world, "scoring", [node("each", "control.loop", {"items": "{{ [1, 2] }}"})], chain("each"), publish=False)
    assert circuit.versions.get().status == "draft"
    body = assert_problem(client_as(world, "operator").post(RUN.format("each"), {}, format="json"), 400)
    assert "loop" in body["errors"]["node"][0]


def test_nan_and_a_huge_body_are_refused(world):
    scoring(world)
    operator = client_as(world, "operator")
    nan = operator.post(RUN.format("notify"), '{"trigger": {"n": NaN}}', content_type="application/json")
    assert "NaN" in assert_problem(nan, 400)["detail"]
    huge = json.dumps({"trigger": {"blob": "x" * (max_body_bytes() + 10)}})
    assert_problem(operator.post(RUN.format("notify"), huge, content_type="application/json"), 413)
    assert not Execution.objects.exists()


def test_a_viewer_gets_403_and_another_tenants_circuit_is_404(world):
    scoring(world)
    assert_problem(client_as(world, "viewer").post(RUN.format("notify"), {}, format="json"), 403)
    assert_problem(session_client(world.outsider, "acme").post(RUN.format("notify"), {}, format="json"), 404)
    # The other tenant's owner, naming their own tenant, cannot reach this circuit either.
    their_owner = key_client(make_key(world.other_tenant, world.outsider, "owner", actor=world.outsider))
    assert_problem(their_owner.post(RUN.format("notify"), {}, format="json"), 404)
    assert not Execution.objects.exists()
