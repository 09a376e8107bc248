"""Validating a document that is not saved (the builder checks pasted steps with it, #13).

Other tenants' circuits and roles: tests/api/test_access.py (the "validate" endpoint)."""

from __future__ import annotations

import pytest

from circuits.automation.models.version import CircuitVersion
from tests.api.access import assert_problem
from tests.api.helpers import client_as

DOC = {
    "nodes": [{"key": "greet", "action": "util.transform", "config": {"template": "hi"}, "position": {"x": 10, "y": 20}}],
    "edges": [{"source": "trigger", "port": "next", "target": "greet"}],
}


@pytest.fixture
def editor(world):
    return client_as(world, "editor")


def test_a_sent_document_is_validated_without_being_saved(world, editor):
    editor.post("/api/v1/circuits", {"name": "Greeter"})
    editor.put("/api/v1/circuits/greeter/draft", DOC)
    unknown = {"nodes": [*DOC["nodes"], {"key": "mystery", "action": "util.teleport"}], "edges": DOC["edges"]}
    answer = editor.post("/api/v1/circuits/greeter/draft/validate", unknown)
    assert answer.status_code == 200
    body = answer.json()
    assert body["valid"] is False and body["revision"] == 1
    assert {"node": "mystery", "field": "action"}.items() <= next(e for e in body["errors"] if e["node"] == "mystery").items()
    assert "util.teleport" in next(e for e in body["errors"] if e["node"] == "mystery")["message"]
    # The saved draft is what it was, and an empty body still checks it.
    assert [n["key"] for n in editor.get("/api/v1/circuits/greeter/draft").json()["nodes"]] == ["greet"]
    assert editor.post("/api/v1/circuits/greeter/draft/validate").json() == {"valid": True, "revision": 1, "errors": []}


def test_a_document_with_no_draft_yet_is_validated_with_revision_zero(world, editor):
    editor.post("/api/v1/circuits", {"name": "Greeter"})
    body = editor.post("/api/v1/circuits/greeter/draft/validate", DOC).json()
    assert body == {"valid": True, "revision": 0, "errors": []}
    assert not CircuitVersion.objects.exists()


def test_a_document_that_could_not_be_saved_is_a_400_naming_what_is_wrong(world, editor):
    editor.post("/api/v1/circuits", {"name": "Greeter"})
    bad_retry = {"nodes": [{"key": "x", "action": "util.log", "retry": "often"}], "edges": []}
    body = assert_problem(editor.post("/api/v1/circuits/greeter/draft/validate", bad_retry), 400)
    assert "nodes[0].retry" in body["errors"]
    dangling = {"nodes": DOC["nodes"], "edges": [{"source": "trigger", "target": "ghost"}]}
    assert "ghost" in assert_problem(editor.post("/api/v1/circuits/greeter/draft/validate", dangling), 400)["errors"]["document"][0]
    duplicate = {"nodes": [DOC["nodes"][0], DOC["nodes"][0]], "edges": []}
    assert "duplicate key 'greet'" in assert_problem(editor.post("/api/v1/circuits/greeter/draft/validate", duplicate), 400)["errors"]["document"][0]
    half = assert_problem(editor.post("/api/v1/circuits/greeter/draft/validate", {"nodes": DOC["nodes"]}), 400)
    assert "both nodes and edges" in str(half)
    assert not CircuitVersion.objects.exists()
