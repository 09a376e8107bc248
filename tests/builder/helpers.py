"""A circuit with a published v1, a draft v2 and a finished test execution, for builder tests."""

from __future__ import annotations

from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from circuits.automation.models.circuit import Circuit
from circuits.automation.services.versions import SaveDraft, current_version
from tests.engine.helpers import build, chain, node

SLUG = "flow"


def flow(world) -> Circuit:
    """Idempotent: the access suite calls it once per role."""
    circuit = Circuit.objects.filter(tenant=world.tenant, slug=SLUG).first()
    if circuit is None:
        circuit = build(world, SLUG, [node("greet", "util.transform", {"template": "hi {{ trigger.name }}"})], chain("greet"))
        SaveDraft(world.tenant, world.owner, circuit, document(extra=True)).execute()
        run_now(create_execution(circuit, {"name": "Ann"}, version=current_version(circuit), is_test=True))
    return circuit


def document(extra: bool = False) -> dict:
    nodes = [{"key": "greet", "action": "util.transform", "config": {"template": "hi {{ trigger.name }}"}, "position": {"x": 300, "y": 100}}]
    edges = [{"source": "trigger", "port": "next", "target": "greet"}]
    if extra:
        nodes.append({"key": "note", "action": "util.log", "config": {"message": "{{ steps.greet.output }}"}, "position": {"x": 560, "y": 100}})
        edges.append({"source": "greet", "port": "next", "target": "note"})
    return {"nodes": nodes, "edges": edges}
