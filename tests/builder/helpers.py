"""A circuit with a published v1, a draft v2 and a finished test execution, for builder tests."""

from __future__ import annotations

import json

from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.services.versions import PublishDraft, SaveDraft, current_version
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


def draft_revision(world) -> int:
    draft = flow(world).versions.filter(status="draft").first()
    return draft.revision if draft else 0


def fresh_draft(world) -> dict:
    """Make sure there is a valid draft to publish (each allowed role publishes once)."""
    circuit = flow(world)
    if not circuit.versions.filter(status="draft").exists():
        SaveDraft(world.tenant, world.owner, circuit, document(extra=True)).execute()
    return {"note": "from the access suite"}


def save_data(world) -> dict:
    return {"document": json.dumps(document(extra=True)), "base_revision": str(draft_revision(world))}


def last_execution(world) -> Execution:
    return Execution.objects.filter(circuit=flow(world)).order_by("pk").first()


def publish_v1(world) -> None:
    circuit = flow(world)
    if not circuit.versions.filter(status="published").exists():
        PublishDraft(world.tenant, world.owner, circuit).execute()
