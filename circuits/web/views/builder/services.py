"""Builder-only services: re-running a test from a chosen step, removing a trigger, version diffs.

Mutations follow the project's Service shape (`check()` / `execute()`, atomic, permission
checked on the circuit) so the htmx views and any later API call the same code.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from django.core.exceptions import ValidationError

from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.engine import graph as graphs
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, StepStatus
from circuits.automation.models.version import CircuitVersion
from circuits.automation.services.executions import copy_steps
from circuits.automation.services.versions import testable_version, version_document
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service


def upstream_of(graph: graphs.Graph, key: str) -> set[str]:
    """Every node from which `key` can be reached (the steps that ran before it)."""
    parents: dict[str, set[str]] = {}
    for source, _port, target in graph.edges:
        if source != graphs.TRIGGER:
            parents.setdefault(target, set()).add(source)
    seen: set[str] = set()
    queue = deque(parents.get(key, ()))
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        queue.extend(parents.get(node, ()))
    return seen


def _containers_around(graph: graphs.Graph, key: str) -> set[str]:
    """Loops/parallels whose body holds `key`: they must run again for `key` to run again."""
    around = set()
    for container in graph.nodes:
        for port in graph.body_ports(container):
            if key in graphs.reachable(graph, graph.targets(container, port)):
                around.add(container)
    return around


class RerunFromStep(Service):
    """A new test execution of the circuit's draft that starts again at `node`.

    The steps before `node` are pinned: their step runs (output, port, logs) are copied from
    the earlier execution, and the engine reuses finished steps instead of running them, so
    only `node` and what follows it run again — with the draft's current configuration.
    """

    audit_action = "execution.rerun_from_step"
    audit_fields = ("id", "circuit", "version", "status", "rerun_of", "trigger_type", "is_test", "started_by")
    perm = Perm.RUN
    denied_message = "You cannot run this circuit."

    def __init__(self, tenant, actor, circuit: Circuit, execution: Execution, node: str):
        super().__init__(tenant, actor)
        self.circuit = circuit
        self.source = execution
        self.node = node

    def permission_object(self):
        return self.circuit

    def validate(self) -> None:
        if self.source.tenant_id != self.tenant.pk or self.source.circuit_id != self.circuit.pk:
            raise ValidationError({"execution": "That execution belongs to another circuit."})
        self.version = testable_version(self.circuit)
        self.graph = graphs.from_version(self.version)
        if self.node not in self.graph.nodes:
            raise ValidationError({"node": f"There is no step {self.node!r} in the current draft."})
        before = upstream_of(self.graph, self.node) - _containers_around(self.graph, self.node)
        kept = [
            s
            for s in self.source.steps.order_by("pk")
            if s.node_key in before
            and (s.status == StepStatus.SUCCEEDED or (s.status == StepStatus.FAILED and s.port))
            and self.graph.nodes[s.node_key].action == s.action
        ]
        missing = sorted(before - {s.node_key for s in kept} - self._not_taken(before))
        if missing:
            raise ValidationError(
                {"node": f"Execution {self.source.pk} has no finished result for {', '.join(repr(m) for m in missing)}: run the circuit from the start."}
            )
        self.kept = kept

    def _not_taken(self, before: set[str]) -> set[str]:
        # Steps on branches the earlier run did not take (the other side of an if) need no result.
        ran = set(self.source.steps.values_list("node_key", flat=True))
        return {k for k in before if k not in ran}

    def perform(self) -> Execution:
        execution = create_execution(
            self.circuit,
            self.source.input,
            version=self.version,
            trigger_type=self.source.trigger_type,
            started_by=self.actor,
            is_test=True,
            rerun_of=self.source,
        )
        copy_steps(self.kept, execution, source=self.source, verb="pinned")
        enqueue(execution)
        return execution


def _node_fields(node: dict) -> dict[str, Any]:
    return {k: node.get(k) for k in ("action", "label", "config", "retry", "timeout_seconds", "on_error")}


def diff_documents(old: dict, new: dict) -> dict:
    """What changed between two version documents: nodes added/removed/changed, edges added/removed.

    Positions are left out: moving a node on the canvas changes nothing in how it runs.
    """
    old_nodes = {n["key"]: n for n in old.get("nodes", [])}
    new_nodes = {n["key"]: n for n in new.get("nodes", [])}
    changed = []
    for key in sorted(old_nodes.keys() & new_nodes.keys()):
        before, after = _node_fields(old_nodes[key]), _node_fields(new_nodes[key])
        fields = [{"field": name, "before": before[name], "after": after[name]} for name in before if (before[name] or None) != (after[name] or None)]
        if fields:
            changed.append({"key": key, "action": after["action"], "fields": fields})

    def edge_set(doc: dict) -> set[tuple[str, str, str]]:
        return {(e["source"], e.get("port", "next"), e["target"]) for e in doc.get("edges", [])}

    old_edges, new_edges = edge_set(old), edge_set(new)
    return {
        "nodes_added": [new_nodes[k] for k in sorted(new_nodes.keys() - old_nodes.keys())],
        "nodes_removed": [old_nodes[k] for k in sorted(old_nodes.keys() - new_nodes.keys())],
        "nodes_changed": changed,
        "edges_added": [{"source": s, "port": p, "target": t} for s, p, t in sorted(new_edges - old_edges)],
        "edges_removed": [{"source": s, "port": p, "target": t} for s, p, t in sorted(old_edges - new_edges)],
    }


def diff_versions(a: CircuitVersion, b: CircuitVersion) -> dict:
    return diff_documents(version_document(a), version_document(b))
