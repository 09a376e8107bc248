"""A version's graph, compiled once and validated.

The graph is a DAG. Where execution starts is given by edges from the pseudo-node
`trigger`; when there are none, every node without incoming edges is a start.
Container actions (loop, parallel) own *bodies*: the nodes reachable from their body ports
(`each`, a branch name). A body ends where its edges end; the container then continues
on its `done` port. So loops and joins need no back-edges and cycles are never valid.

Each scope walks one *region* (`Graph.region`): the top level, or one body. A node with
several incoming edges in its region is a join; circuits/automation/engine/walk.py decides when it runs.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from actions.sdk import registry
from circuits.automation.engine.expressions import check_value
from circuits.automation.engine.references import check_references
from circuits.automation.models.version import Edge, Node, VersionStatus

TRIGGER = "trigger"
ERROR_PORT = "error"
DONE_PORT = "done"


@dataclass(frozen=True)
class NodeSpec:
    key: str
    action: str
    label: str
    config: dict
    retry: dict
    timeout_seconds: float | None
    on_error: str
    x: float = 0
    y: float = 0
    # {"output": …, "port": …}: what a test run uses instead of running the step (never a real run).
    pinned: dict | None = None

    @property
    def action_class(self):
        return registry.get(self.action)


def node_ports(action: str, config: Any) -> list[str]:
    """A node's output ports for its config, plus the `error` port every node has."""
    action_class = registry.get(action)
    if action_class is None:
        return ["next", ERROR_PORT]
    try:
        ports = list(action_class.dynamic_ports(config if isinstance(config, dict) else {}))
    except Exception:  # a half-written config (e.g. cases not a list yet) keeps the static ports
        ports = list(action_class.ports)
    return [*ports, ERROR_PORT] if ERROR_PORT not in ports else ports


@dataclass
class Graph:
    nodes: dict[str, NodeSpec]
    edges: list[tuple[str, str, str]]  # (source, port, target); source may be TRIGGER
    out: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    starts: list[str] = field(default_factory=list)
    incoming: dict[str, int] = field(default_factory=dict)
    # Regions are computed once per set of starts (the graph of a published version is cached
    # and shared by every runner and parallel branch; recomputing a missing entry is harmless).
    _regions: dict[tuple[str, ...], Region] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        out: dict[tuple[str, str], list[str]] = defaultdict(list)
        incoming: dict[str, int] = defaultdict(int)
        for source, port, target in self.edges:
            out[(source, port)].append(target)
            if source != TRIGGER:
                incoming[target] += 1
        self.out = dict(out)
        self.incoming = dict(incoming)
        trigger_starts = self.out.get((TRIGGER, "next"), [])
        self.starts = list(trigger_starts) or [k for k in self.nodes if k not in self.incoming]

    def targets(self, key: str, port: str) -> list[str]:
        return self.out.get((key, port), [])

    def has_port_edge(self, key: str, port: str) -> bool:
        return (key, port) in self.out

    def body_ports(self, key: str) -> tuple[str, ...]:
        node = self.nodes[key]
        action = node.action_class
        if action is None or not getattr(action, "container", False):
            return ()
        return tuple(p for p in action.dynamic_ports(node.config) if p not in (DONE_PORT, ERROR_PORT))

    def inside(self, key: str) -> tuple[str, ...]:
        """Every node of a container's bodies, nested bodies included (none for another node)."""
        found: list[str] = []
        containers = [key]
        while containers:
            container = containers.pop()
            for port in self.body_ports(container):
                for member in sorted(self.region(self.targets(container, port)).nodes):
                    if member not in found:
                        found.append(member)
                        containers.append(member)
        return tuple(found)

    def region(self, starts: list[str] | tuple[str, ...]) -> Region:
        """What one scope started at `starts` walks: see `Region`."""
        key = tuple(starts)
        region = self._regions.get(key)
        if region is None:
            region = self._regions[key] = _region(self, key)
        return region


@dataclass(frozen=True)
class Region:
    """The nodes one scope walks, and the edges among them that joins wait for.

    A region is every node reachable from its starts without entering a container's body
    (each body is a region of its own, walked in its own scope by the container). Only edges
    between nodes of the region count: `incoming[k]` is how many edges into `k` leave a node
    of the region, and `outgoing[k]` lists `(port, target)` of those edges in the order they
    were drawn. Edges from outside the region — the trigger, the container that entered this
    body — are the starts' way in and are never waited for.
    """

    starts: tuple[str, ...]
    nodes: frozenset[str]
    incoming: dict[str, int]
    outgoing: dict[str, tuple[tuple[str, str], ...]]


def _region(graph: Graph, starts: tuple[str, ...]) -> Region:
    leaving: dict[str, list[tuple[str, str]]] = defaultdict(list)  # source → its (port, target), in edge order
    for source, port, target in graph.edges:
        if source in graph.nodes and target in graph.nodes:
            leaving[source].append((port, target))
    members: set[str] = set()
    outgoing: dict[str, tuple[tuple[str, str], ...]] = {}
    queue = deque(k for k in starts if k in graph.nodes)
    while queue:
        key = queue.popleft()
        if key in members:
            continue
        members.add(key)
        body = graph.body_ports(key)  # body edges lead into the container's own regions
        outgoing[key] = tuple((port, target) for port, target in leaving[key] if port not in body)
        queue.extend(target for _port, target in outgoing[key])
    incoming = dict.fromkeys(members, 0)
    for edges in outgoing.values():
        for _port, target in edges:
            incoming[target] += 1
    return Region(starts, frozenset(members), incoming, outgoing)


class GraphError(Exception):
    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors


def _err(message: str, node: str | None = None, edge: int | None = None, field_: str | None = None) -> dict:
    error: dict[str, Any] = {"message": message}
    if node is not None:
        error["node"] = node
    if edge is not None:
        error["edge"] = edge
    if field_ is not None:
        error["field"] = field_
    return error


def validate(graph: Graph) -> list[dict]:
    """Every problem with the graph, each naming the node/edge it is about: its structure, and
    every template reference to a step that cannot have run before its node (references.py)."""
    return _validate_structure(graph) + check_references(graph)


def _validate_structure(graph: Graph) -> list[dict]:
    errors: list[dict] = []
    nodes = graph.nodes
    for key, node in nodes.items():
        action = node.action_class
        if key == TRIGGER:
            errors.append(_err("'trigger' is reserved for the circuit's trigger", node=key))
        if action is None:
            errors.append(_err(f"unknown action {node.action!r}", node=key, field_="action"))
            continue
        for message in action.validate_config(node.config):
            errors.append(_err(message, node=key, field_="config"))
        for message in check_value(node.config, "config"):
            errors.append(_err(message, node=key, field_="config"))
        errors += check_policy(node)
        errors += check_pinned(node)
    for index, (source, port, target) in enumerate(graph.edges):
        if source != TRIGGER and source not in nodes:
            errors.append(_err(f"edge from unknown node {source!r}", edge=index))
            continue
        if target not in nodes:
            errors.append(_err(f"edge to unknown node {target!r}", edge=index))
            continue
        if source == target:
            errors.append(_err(f"node {source!r} cannot connect to itself", node=source, edge=index))
        if source == TRIGGER:
            if port != "next":
                errors.append(_err("edges from the trigger use the port 'next'", edge=index))
            continue
        action = nodes[source].action_class
        if action is not None:
            ports = set(action.dynamic_ports(nodes[source].config)) | {ERROR_PORT}
            if port not in ports:
                errors.append(_err(f"node {source!r} has no port {port!r} (ports: {', '.join(sorted(ports))})", node=source, edge=index))
    for key, node in nodes.items():
        if node.on_error == "error_port" and not graph.has_port_edge(key, ERROR_PORT):
            errors.append(_err("on error 'follow the error port' needs an edge from the 'error' port", node=key, field_="on_error"))
    if errors:
        return errors
    cycle = _find_cycle(graph)
    if cycle:
        return [_err(f"the graph has a cycle: {' → '.join(cycle)}", node=cycle[0])]
    seen = reachable(graph, graph.starts)
    for key in nodes:
        if key not in seen:
            errors.append(_err(f"node {key!r} is unreachable from the trigger", node=key))
    errors += _check_bodies(graph)
    return errors


def check_policy(node: NodeSpec) -> list[dict]:
    errors = []
    retry = node.retry or {}
    unknown = set(retry) - {"max_attempts", "backoff_seconds", "max_backoff_seconds"}
    if unknown:
        errors.append(_err(f"unknown retry settings: {', '.join(sorted(unknown))}", node=node.key, field_="retry"))
    attempts = retry.get("max_attempts", 1)
    if not isinstance(attempts, int) or not 1 <= attempts <= 10:
        errors.append(_err("retry.max_attempts must be a whole number from 1 to 10", node=node.key, field_="retry"))
    for name in ("backoff_seconds", "max_backoff_seconds"):
        value = retry.get(name, 1)
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 3600:
            errors.append(_err(f"retry.{name} must be a number of seconds from 0 to 3600", node=node.key, field_="retry"))
    if node.timeout_seconds is not None and not 0 < node.timeout_seconds <= 3600:
        errors.append(_err("timeout must be between 0 and 3600 seconds", node=node.key, field_="timeout_seconds"))
    if node.on_error not in ("fail", "continue", "error_port"):
        errors.append(_err("on_error must be fail, continue or error_port", node=node.key, field_="on_error"))
    return errors


PINNED_MAX_BYTES = 256_000


def check_pinned(node: NodeSpec) -> list[dict]:
    """Pinned data fits the node: not on a container (its result is its body's), a port the
    node has with its config, and a bounded size (it travels with every save of the draft)."""
    if node.pinned is None:
        return []
    action = node.action_class
    if action is None:
        return []
    if action.container:
        return [_err("a loop or parallel block cannot have pinned data: pin the steps of its body", node=node.key, field_="pinned")]
    if not isinstance(node.pinned, dict) or "output" not in node.pinned:
        return [_err("pinned data is {'output': …, 'port': …}", node=node.key, field_="pinned")]
    errors = []
    port = node.pinned.get("port") or "next"
    try:
        ports = set(action.dynamic_ports(node.config)) | {ERROR_PORT}
    except Exception:  # a config the action refuses is reported by validate_config already
        return errors
    if port not in ports:
        message = f"the pinned data leaves by port {port!r}, which this step no longer has (ports: {', '.join(sorted(ports))})"
        errors.append(_err(message, node=node.key, field_="pinned"))
    size = len(json.dumps(node.pinned.get("output"), ensure_ascii=False).encode())
    if size > PINNED_MAX_BYTES:
        errors.append(_err(f"the pinned output is {size:,} bytes; pin at most {PINNED_MAX_BYTES:,}", node=node.key, field_="pinned"))
    return errors


def _find_cycle(graph: Graph) -> list[str] | None:
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(graph.nodes, white)
    adjacency: dict[str, list[str]] = defaultdict(list)
    for source, _port, target in graph.edges:
        if source != TRIGGER:
            adjacency[source].append(target)
    for root in graph.nodes:
        if color[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path = [root]
        color[root] = grey
        while stack:
            key, index = stack[-1]
            children = adjacency[key]
            if index < len(children):
                stack[-1] = (key, index + 1)
                child = children[index]
                if color[child] == grey:
                    return [*path[path.index(child) :], child]
                if color[child] == white:
                    color[child] = grey
                    stack.append((child, 0))
                    path.append(child)
            else:
                color[key] = black
                stack.pop()
                path.pop()
    return None


def reachable(graph: Graph, starts: list[str]) -> set[str]:
    seen: set[str] = set()
    queue = deque(starts)
    while queue:
        key = queue.popleft()
        if key in seen:
            continue
        seen.add(key)
        for (source, _port), targets in graph.out.items():
            if source == key:
                queue.extend(targets)
    return seen


def _check_bodies(graph: Graph) -> list[dict]:
    """A node inside a container's body must not also be reachable from outside it, nor from two of its branches."""
    errors = []
    for key in graph.nodes:
        body_ports = graph.body_ports(key)
        if not body_ports:
            continue
        body: set[str] = set()
        for port in body_ports:
            branch = reachable(graph, graph.targets(key, port))
            # Each branch runs in a scope of its own, so a node in two of them would run once
            # per branch, not once after both: branches meet only on the container's `done`.
            for shared in sorted(body & branch):
                errors.append(_err(f"node {shared!r} is in more than one branch of {key!r}; branches join on its 'done' port", node=shared))
            body |= branch
        after = reachable(graph, graph.targets(key, DONE_PORT) + graph.targets(key, ERROR_PORT))
        for shared in sorted(body & after):
            errors.append(_err(f"node {shared!r} is both inside the body of {key!r} and after it", node=shared))
        for source, _port, target in graph.edges:
            if target in body and source not in body and source != key:
                errors.append(_err(f"node {target!r} in the body of {key!r} is entered from outside it ({source!r})", node=target))
    return errors


# --- loading from the database (compile once per published version) ----------------------


def from_version(version) -> Graph:
    if version.status == VersionStatus.DRAFT:
        return _load(version.pk)
    return _load_cached(version.pk, version.created_at)


@lru_cache(maxsize=512)
def _load_cached(version_id: int, created_at) -> Graph:
    # Published/archived versions never change, so their compiled graph is cached by id
    # (with the creation time, so a reused id after a rolled-back transaction is not confused).
    return _load(version_id)


def _load(version_id: int) -> Graph:
    nodes = {
        n.key: NodeSpec(n.key, n.action, n.label, n.config, n.retry or {}, n.timeout_seconds, n.on_error, n.x, n.y, n.pinned)
        for n in Node.objects.filter(version_id=version_id).order_by("pk")
    }
    edges = [
        (source or TRIGGER, port, target)
        for source, port, target in Edge.objects.filter(version_id=version_id).order_by("pk").values_list("source__key", "source_port", "target__key")
    ]
    return Graph(nodes=nodes, edges=edges)


def from_document(doc: dict) -> Graph:
    """Build a graph from the JSON document's `nodes`/`edges` (already schema-checked)."""
    nodes = {}
    for n in doc.get("nodes", []):
        position = n.get("position") or {}
        nodes[n["key"]] = NodeSpec(
            key=n["key"],
            action=n["action"],
            label=n.get("label", ""),
            config=n.get("config", {}),
            retry=n.get("retry") or {},
            timeout_seconds=n.get("timeout_seconds"),
            on_error=n.get("on_error", "fail"),
            x=position.get("x", 0),
            y=position.get("y", 0),
            pinned=n.get("pinned"),
        )
    edges = [(e.get("source") or TRIGGER, e.get("port", "next"), e["target"]) for e in doc.get("edges", [])]
    return Graph(nodes=nodes, edges=edges)
