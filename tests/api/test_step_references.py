"""The API's validate and publish name every bad step reference (issue #9)."""

from __future__ import annotations

import pytest

from circuits.automation.models.version import CircuitVersion
from tests.api.access import assert_problem
from tests.api.helpers import client_as


@pytest.fixture
def editor(world):
    return client_as(world, "editor")


def test_validate_and_publish_name_the_node_and_the_expression_of_a_reference_to_a_step_not_upstream(world, editor):
    editor.post("/api/v1/circuits", {"name": "Fan"})
    nodes = [
        {"key": "fan", "action": "control.parallel", "config": {"branches": ["a", "b"]}},
        {"key": "left", "action": "util.log", "config": {"message": "{{ steps.right.output }}"}},
        {"key": "right", "action": "util.log", "config": {"message": "{{ steps.rigth.output }}"}},
    ]
    edges = [{"source": "trigger", "target": "fan"}, {"source": "fan", "port": "a", "target": "left"}, {"source": "fan", "port": "b", "target": "right"}]
    assert editor.put("/api/v1/circuits/fan/draft", {"nodes": nodes, "edges": edges}).status_code == 200
    validation = editor.post("/api/v1/circuits/fan/draft/validate").json()
    assert validation["valid"] is False
    assert [(e["node"], e["expression"]) for e in validation["errors"]] == [("left", "steps.right.output"), ("right", "steps.rigth.output")]
    body = assert_problem(editor.post("/api/v1/circuits/fan/publish"), 400)
    assert body["type"].endswith("graph-invalid")
    assert [(e["node"], e["path"], e["step"]) for e in body["graph_errors"]] == [("left", "config.message", "right"), ("right", "config.message", "rigth")]
    assert "step 'left', config.message: steps.right.output reads step 'right', which is not upstream" in body["detail"]
    assert not CircuitVersion.objects.filter(status="published").exists()
