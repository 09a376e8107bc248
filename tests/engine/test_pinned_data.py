"""Pinned data: a test run takes a node's pinned output instead of running it; a real run never does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actions.web.tests.server import LocalServer, Reply, serve
from circuits.automation.dispatch import create_execution
from circuits.automation.engine import graph as graphs
from circuits.automation.engine.runner import run_now
from circuits.automation.models.execution import ExecutionStatus
from circuits.automation.services.versions import current_version, validate_version, version_document
from tests.engine.helpers import build, chain, node, run

PINNED = {"output": {"status": 200, "body": {"answer": "pinned"}}, "port": "next"}


@pytest.fixture
def counting_server(world) -> Iterator[LocalServer]:
    with serve({"/answer": lambda seen, handler: Reply(200, '{"answer": "live"}', "application/json")}) as server:
        world.tenant.outbound_allowlist = [server.allow]
        world.tenant.save(update_fields=["outbound_allowlist"])
        yield server


def _circuit(world, server: LocalServer, *, publish: bool):
    steps = [
        node("call", "web.http_request", {"url": server.url("/answer")}, pinned=PINNED),
        node("say", "util.transform", {"template": "{{ steps.call.output.body.answer }}"}),
    ]
    return build(world, "pinned", steps, chain("call", "say"), publish=publish)


def test_a_test_run_uses_the_pinned_output_and_sends_no_request(world, counting_server):
    circuit = _circuit(world, counting_server, publish=False)
    execution = run_now(create_execution(circuit, {}, version=current_version(circuit), is_test=True))
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == "pinned"
    assert counting_server.requests == []
    call = execution.steps.get(node_key="call")
    assert call.output == PINNED["output"] and call.port == "next"
    assert any(entry.get("pinned") for entry in call.logs)


def test_a_real_run_of_the_published_version_ignores_pinned_data(world, counting_server):
    circuit = _circuit(world, counting_server, publish=True)
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == "live"
    assert len(counting_server.requests) == 1


def test_pinned_data_is_kept_with_the_draft_and_checked_against_the_nodes_ports(world, counting_server):
    circuit = _circuit(world, counting_server, publish=False)
    document = version_document(current_version(circuit))
    assert document["nodes"][0]["pinned"] == PINNED and "pinned" not in document["nodes"][1]
    assert validate_version(current_version(circuit)) == []
    wrong = graphs.NodeSpec("call", "web.http_request", "", {"url": "https://example.com"}, {}, None, "fail", pinned={"output": 1, "port": "true"})
    assert "no longer has" in graphs.check_pinned(wrong)[0]["message"]
    loop = graphs.NodeSpec("each", "control.loop", "", {"items": "{{ [1] }}"}, {}, None, "fail", pinned={"output": []})
    assert "cannot have pinned data" in graphs.check_pinned(loop)[0]["message"]
