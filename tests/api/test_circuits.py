"""Circuits, versions, triggers, import/export through the API."""

from __future__ import annotations

import pytest

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.models.trigger import Trigger
from circuits.automation.models.version import CircuitVersion
from tests.api.access import assert_problem
from tests.api.helpers import client_as, session_client, simple_circuit

DOC = {
    "nodes": [{"key": "greet", "action": "util.transform", "config": {"template": {"hello": "{{ trigger.name }}"}}, "position": {"x": 10, "y": 20}}],
    "edges": [{"source": "trigger", "port": "next", "target": "greet"}],
}


@pytest.fixture
def editor(world):
    return client_as(world, "editor")


def test_create_read_change_and_delete_a_circuit(world, editor):
    created = editor.post("/api/v1/circuits", {"name": "Lead scoring", "tags": ["sales"]})
    assert created.status_code == 201
    assert created.json() | {"created_at": None, "updated_at": None} == {
        "slug": "lead-scoring",
        "name": "Lead scoring",
        "description": "",
        "enabled": True,
        "tags": ["sales"],
        "on_failure": None,
        "owner": "editor-a",
        "published_version": None,
        "draft_revision": None,
        "created_at": None,
        "updated_at": None,
    }
    assert editor.get("/api/v1/circuits/lead-scoring").json()["name"] == "Lead scoring"
    changed = editor.patch("/api/v1/circuits/lead-scoring", {"description": "Scores leads", "enabled": False})
    assert changed.status_code == 200 and changed.json()["description"] == "Scores leads" and not changed.json()["enabled"]
    assert editor.delete("/api/v1/circuits/lead-scoring").status_code == 204
    assert_problem(editor.get("/api/v1/circuits/lead-scoring"), 404)


def test_a_duplicate_slug_is_a_field_error(world, editor):
    simple_circuit(world, "greeter")
    body = assert_problem(editor.post("/api/v1/circuits", {"name": "Greeter"}), 400)
    assert "slug" in body["errors"]


def test_the_slug_cannot_be_changed(world, editor):
    simple_circuit(world, "greeter")
    body = assert_problem(editor.patch("/api/v1/circuits/greeter", {"slug": "other"}), 400)
    assert "slug" in body["errors"]


def test_the_list_filters_and_pages(world, editor):
    for i in range(3):
        simple_circuit(world, f"c{i}")
    editor.post("/api/v1/circuits/c1/disable")
    assert [c["slug"] for c in editor.get("/api/v1/circuits?enabled=false").json()["results"]] == ["c1"]
    assert [c["slug"] for c in editor.get("/api/v1/circuits?search=c2").json()["results"]] == ["c2"]
    page = editor.get("/api/v1/circuits?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"].endswith("page=2&page_size=2")
    assert_problem(editor.get("/api/v1/circuits?page=9"), 404)


def test_a_circuit_with_running_executions_cannot_be_deleted(world, editor):
    from circuits.automation.dispatch import create_execution

    circuit = simple_circuit(world, "greeter")
    create_execution(circuit, {})
    body = assert_problem(editor.delete("/api/v1/circuits/greeter"), 400)
    assert "cancel them first" in body["errors"]["circuit"][0]
    assert Circuit.objects.filter(pk=circuit.pk).exists()


def test_deleting_a_circuit_takes_its_history_with_it(world, editor):
    from tests.engine.helpers import run

    circuit = simple_circuit(world, "greeter")
    run(circuit, {"name": "Ada"})
    assert editor.delete("/api/v1/circuits/greeter").status_code == 204
    assert not Execution.objects.filter(circuit_id=circuit.pk).exists()
    assert not CircuitVersion.objects.filter(circuit_id=circuit.pk).exists()


def test_enable_and_disable(world):
    simple_circuit(world, "greeter")
    operator = client_as(world, "operator")
    assert operator.post("/api/v1/circuits/greeter/disable").json()["enabled"] is False
    assert operator.post("/api/v1/circuits/greeter/enable").json()["enabled"] is True


def test_draft_save_validate_publish_and_roll_back(world, editor):
    editor.post("/api/v1/circuits", {"name": "Greeter"})
    assert_problem(editor.get("/api/v1/circuits/greeter/draft"), 404)
    saved = editor.put("/api/v1/circuits/greeter/draft", DOC)
    assert saved.status_code == 200
    assert saved.json()["number"] == 1 and saved.json()["revision"] == 1
    assert saved.json()["nodes"][0]["position"] == {"x": 10, "y": 20}
    assert saved.json()["edges"] == DOC["edges"]
    assert editor.post("/api/v1/circuits/greeter/draft/validate").json() == {"valid": True, "revision": 1, "errors": []}
    published = editor.post("/api/v1/circuits/greeter/publish", {"note": "first"})
    assert published.status_code == 200 and published.json()["status"] == "published" and published.json()["note"] == "first"
    # A second version, then roll back to the first.
    editor.put("/api/v1/circuits/greeter/draft", {**DOC, "nodes": [{**DOC["nodes"][0], "config": {"template": "v2"}}]})
    assert editor.post("/api/v1/circuits/greeter/publish").json()["number"] == 2
    rolled = editor.post("/api/v1/circuits/greeter/rollback", {"version": 1})
    assert rolled.status_code == 200 and rolled.json()["number"] == 1 and rolled.json()["status"] == "published"
    statuses = {v["number"]: v["status"] for v in editor.get("/api/v1/circuits/greeter/versions").json()["results"]}
    assert statuses == {1: "published", 2: "archived"}
    assert editor.get("/api/v1/circuits/greeter/versions/2").json()["nodes"][0]["config"] == {"template": "v2"}
    assert editor.get("/api/v1/circuits/greeter").json()["published_version"] == 1


def test_a_drafts_pinned_data_goes_through_the_api_and_a_container_cannot_be_pinned(world, editor):
    editor.post("/api/v1/circuits", {"name": "Pins"})
    pinned = {"output": {"answer": 42}, "port": "next"}
    saved = editor.put("/api/v1/circuits/pins/draft", {**DOC, "nodes": [{**DOC["nodes"][0], "pinned": pinned}]})
    assert saved.status_code == 200 and saved.json()["nodes"][0]["pinned"] == pinned
    again = editor.put("/api/v1/circuits/pins/draft", {"nodes": saved.json()["nodes"], "edges": saved.json()["edges"], "base_revision": 1})
    assert again.status_code == 200 and again.json()["nodes"][0]["pinned"] == pinned
    loop = {"key": "each", "action": "control.loop", "config": {"items": "{{ [1] }}"}, "pinned": {"output": []}}
    editor.put("/api/v1/circuits/pins/draft", {"nodes": [loop], "edges": [{"source": "trigger", "target": "each"}], "base_revision": 2})
    errors = editor.post("/api/v1/circuits/pins/draft/validate").json()["errors"]
    assert any(e["node"] == "each" and e["field"] == "pinned" for e in errors), errors


def test_a_concurrent_draft_edit_is_a_409_and_saves_nothing(world, editor):
    editor.post("/api/v1/circuits", {"name": "Greeter"})
    editor.put("/api/v1/circuits/greeter/draft", DOC)
    editor.put("/api/v1/circuits/greeter/draft", {**DOC, "base_revision": 1})  # now revision 2
    stale = {**DOC, "nodes": [{**DOC["nodes"][0], "key": "other"}], "edges": [{"source": "trigger", "target": "other"}], "base_revision": 1}
    body = assert_problem(editor.put("/api/v1/circuits/greeter/draft", stale), 409)
    assert body["type"].endswith("conflict") and "revision 2" in body["detail"]
    assert [n["key"] for n in editor.get("/api/v1/circuits/greeter/draft").json()["nodes"]] == ["greet"]


def test_base_revision_0_means_started_without_a_draft_and_refuses_one_made_since(world, editor):
    editor.post("/api/v1/circuits", {"name": "Greeter"})
    assert editor.put("/api/v1/circuits/greeter/draft", {**DOC, "base_revision": 0}).status_code == 200  # no draft yet: saved
    stale = {**DOC, "nodes": [{**DOC["nodes"][0], "key": "other"}], "edges": [{"source": "trigger", "target": "other"}], "base_revision": 0}
    assert "revision 1" in assert_problem(editor.put("/api/v1/circuits/greeter/draft", stale), 409)["detail"]
    assert [n["key"] for n in editor.get("/api/v1/circuits/greeter/draft").json()["nodes"]] == ["greet"]
    assert "base_revision" in assert_problem(editor.put("/api/v1/circuits/greeter/draft", {**DOC, "base_revision": -1}), 400)["errors"]


def test_a_saved_draft_answers_each_nodes_ports_for_its_config(world, editor):
    editor.post("/api/v1/circuits", {"name": "Router"})
    switch = {"key": "route", "action": "control.switch", "config": {"value": "{{ trigger.kind }}", "cases": [{"equals": "a", "port": "first"}]}}
    saved = editor.put("/api/v1/circuits/router/draft", {"nodes": [switch], "edges": [{"source": "trigger", "target": "route"}]})
    assert saved.status_code == 200, saved.content
    assert saved.json()["ports"]["route"][:1] == ["first"] and "error" in saved.json()["ports"]["route"]
    assert editor.get("/api/v1/circuits/router/draft").json()["ports"] == saved.json()["ports"]


def test_a_bad_document_names_the_node_field(world, editor):
    editor.post("/api/v1/circuits", {"name": "Greeter"})
    bad = {"nodes": [{"key": "Bad Key", "action": "util.transform", "colour": 1}], "edges": [{"source": "trigger", "target": "ghost"}]}
    body = assert_problem(editor.put("/api/v1/circuits/greeter/draft", bad), 400)
    assert {"nodes[0].key", "nodes[0].colour"} <= set(body["errors"])
    dangling = {"nodes": DOC["nodes"], "edges": [{"source": "trigger", "target": "ghost"}]}
    body = assert_problem(editor.put("/api/v1/circuits/greeter/draft", dangling), 400)
    assert "ghost" in body["errors"]["document"][0]
    assert not CircuitVersion.objects.exists()


def test_publishing_an_invalid_graph_lists_the_graph_errors(world, editor):
    editor.post("/api/v1/circuits", {"name": "Greeter"})
    editor.put("/api/v1/circuits/greeter/draft", {"nodes": [{"key": "x", "action": "util.nope"}], "edges": [{"source": "trigger", "target": "x"}]})
    validation = editor.post("/api/v1/circuits/greeter/draft/validate").json()
    assert validation["valid"] is False and validation["errors"][0]["node"] == "x"
    body = assert_problem(editor.post("/api/v1/circuits/greeter/publish"), 400)
    assert body["type"].endswith("graph-invalid")
    assert body["graph_errors"][0]["node"] == "x" and "util.nope" in body["graph_errors"][0]["message"]
    assert not CircuitVersion.objects.filter(status="published").exists()


def test_rolling_back_to_a_missing_version_is_a_field_error(world, editor):
    simple_circuit(world, "greeter")
    body = assert_problem(editor.post("/api/v1/circuits/greeter/rollback", {"version": 7}), 400)
    assert "version" in body["errors"]


def test_triggers_crud_and_the_webhook_url_only_for_editors(world, editor):
    simple_circuit(world, "greeter")
    created = editor.post("/api/v1/circuits/greeter/triggers", {"type": "webhook", "config": {"respond": "wait"}})
    assert created.status_code == 201
    trigger = created.json()
    token = Trigger.objects.get(pk=trigger["id"]).webhook_token
    assert trigger["webhook_url"] == f"http://testserver/hooks/{token}"
    viewer_view = client_as(world, "viewer").get(f"/api/v1/circuits/greeter/triggers/{trigger['id']}").json()
    assert viewer_view["webhook_url"] is None and viewer_view["type"] == "webhook"
    assert editor.patch(f"/api/v1/circuits/greeter/triggers/{trigger['id']}", {"enabled": False}).json()["enabled"] is False
    body = assert_problem(editor.patch(f"/api/v1/circuits/greeter/triggers/{trigger['id']}", {"config": {"respond": "later"}}), 400)
    assert "config" in body["errors"]
    assert editor.delete(f"/api/v1/circuits/greeter/triggers/{trigger['id']}").status_code == 204
    assert editor.get("/api/v1/circuits/greeter/triggers").json() == []


def test_a_trigger_config_is_validated_per_type(world, editor):
    simple_circuit(world, "greeter")
    body = assert_problem(editor.post("/api/v1/circuits/greeter/triggers", {"type": "schedule", "config": {"cron": "every day"}}), 400)
    assert "cron" in body["errors"]["config"][0]
    body = assert_problem(editor.post("/api/v1/circuits/greeter/triggers", {"type": "sometimes"}), 400)
    assert "type" in body["errors"]


def test_export_then_import_makes_a_copy(world, editor):
    simple_circuit(world, "greeter", triggers=[{"type": "event", "config": {"event": "lead.created"}}])
    document = editor.get("/api/v1/circuits/greeter/export").json()
    assert document["format"] == "circuitos.circuit/v1" and document["version"] == 1
    assert editor.get("/api/v1/circuits/greeter/export?version=1").json() == document
    assert_problem(editor.get("/api/v1/circuits/greeter/export?version=9"), 404)
    created = editor.post("/api/v1/import", {"document": document, "slug": "greeter-copy", "name": "Greeter copy"})
    assert created.status_code == 201 and created.json()["slug"] == "greeter-copy" and created.json()["draft_revision"] == 1
    copy = Circuit.objects.get(tenant=world.tenant, slug="greeter-copy")
    assert [t.config for t in copy.triggers.all()] == [{"event": "lead.created"}]


def test_an_import_with_a_bad_trigger_saves_nothing(world, editor):
    document = {"format": "circuitos.circuit/v1", "name": "X", "slug": "x", "triggers": [{"type": "schedule", "config": {"cron": "nope"}}], **DOC}
    body = assert_problem(editor.post("/api/v1/import", {"document": document}), 400)
    assert "triggers/0" in body["errors"]["document"][0]
    assert not Circuit.objects.exists()


def test_a_guardian_grant_shows_one_circuit_to_a_member_without_the_role(world):
    """Object grants work through the API: view one circuit, edit it, nothing more."""
    from guardian.shortcuts import assign_perm

    circuit = simple_circuit(world, "greeter")
    simple_circuit(world, "other")
    assign_perm("circuits.change_circuit", world.viewer, circuit)
    viewer = session_client(world.viewer)
    assert viewer.patch("/api/v1/circuits/greeter", {"description": "granted"}).status_code == 200
    assert_problem(viewer.patch("/api/v1/circuits/other", {"description": "no"}), 403)
