"""The builder's Validate, Save and Publish name every bad step reference: node, field, expression (issue #9).

The builder calls them through /api/v1 with the browser session (static/builder/document.js, panels.js).
"""

from __future__ import annotations

from circuits.automation.models.version import CircuitVersion
from circuits.automation.services.versions import SaveDraft
from tests.api.helpers import session_client
from tests.builder.helpers import SLUG, document, flow

API = f"/api/v1/circuits/{SLUG}"


def typo_draft(world) -> None:
    circuit = flow(world)
    doc = document(extra=True)
    doc["nodes"][1]["config"] = {"message": "{{ steps.greeet.output }} and {{ steps.note.output }}"}
    SaveDraft(world.tenant, world.editor, circuit, doc).execute()


def test_validate_lists_every_bad_reference_with_its_node_field_and_expression(world, client_for):
    typo_draft(world)
    response = session_client(world.viewer, "acme").post(f"{API}/draft/validate", format="json")
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert [(e["node"], e["path"], e["expression"], e["step"]) for e in errors] == [
        ("note", "config.message", "steps.greeet.output", "greeet"),
        ("note", "config.message", "steps.note.output", "note"),
    ]
    assert errors[0]["message"] == "step 'note', config.message: steps.greeet.output reads step 'greeet', which does not exist — did you mean 'greet'?"


def test_saving_keeps_the_draft_and_validating_it_answers_the_reference_errors(world):
    flow(world)
    revision = CircuitVersion.objects.get(circuit__slug=SLUG, status="draft").revision
    doc = document(extra=True)
    doc["nodes"][1]["config"] = {"message": "{{ steps.greeet.output }}"}
    client = session_client(world.editor, "acme")
    response = client.put(f"{API}/draft", {**doc, "base_revision": revision}, format="json")
    assert response.status_code == 200  # a draft may be unfinished: it is saved, with its problems listed
    assert response.json()["revision"] == revision + 1
    assert [e["expression"] for e in client.post(f"{API}/draft/validate", format="json").json()["errors"]] == ["steps.greeet.output"]


def test_publishing_a_draft_with_a_bad_reference_is_a_400_naming_node_and_expression(world, client_for):
    typo_draft(world)
    response = session_client(world.editor, "acme").post(f"{API}/publish", {"note": "try"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert [(e["node"], e["expression"]) for e in body["graph_errors"]] == [("note", "steps.greeet.output"), ("note", "steps.note.output")]
    assert "steps.greeet.output reads step 'greeet'" in body["detail"]
    assert CircuitVersion.objects.get(circuit__slug=SLUG, status="published").number == 1  # v1 stays the published one
