"""Which finished steps of an execution a retry keeps (the engine reuses kept steps instead of running them).

Retrying on the version it ran keeps every finished step: succeeded ones, and failures the
graph handled (followed its `error` port or `continue`), so the retry takes the same path
and only the failed step and what follows run again.

Retrying on another version (the circuit's published version, to pick up a fix) keeps a
step only when nothing that could change its result changed. A step is kept when:

- it succeeded (a handled failure runs again: the fix may be for it);
- its node is unchanged: the published version has a node with the same key, the same
  action and the same config, with the same incoming edges (source and port);
- every node upstream of it (its ancestors through any edge, so also the loop or
  parallel block it sits in) is unchanged in the same sense — a changed ancestor may feed
  it other data, even one that did not run last time;
- no step of an ancestor runs again — its output could differ from the one it used;
- for a loop or parallel block: every node of its body is unchanged and none of the body's
  steps runs again, since the container's result is made of its body's;
- for a step whose templates read `vars`: no step that ran before it runs again and no new or
  changed node of the published version is still to run — variables flow in run order, not
  along edges, so a step that set them need not be upstream of the one that reads them.

Everything else runs again. Rules that judge by what a template reads (`steps.x`) rather
than by the graph would be finer, but the graph is what a reader of the builder sees.
"""

from __future__ import annotations

from jinja2 import nodes as jinja_nodes

from circuits.automation.engine import graph as graphs
from circuits.automation.engine.expressions import ExpressionError, parse, templates_in
from circuits.automation.models.execution import Execution, StepRun, StepStatus
from circuits.automation.models.version import CircuitVersion

Ident = tuple[str, str]  # (node key, scope)


def finished(step: StepRun) -> bool:
    return step.status == StepStatus.SUCCEEDED or (step.status == StepStatus.FAILED and bool(step.port))


def steps_to_keep(execution: Execution, version: CircuitVersion) -> list[StepRun]:
    """The steps of `execution` a retry running `version` may reuse, in the order they ran."""
    steps = list(execution.steps.order_by("pk"))
    if version.pk == execution.version_id:
        return [s for s in steps if finished(s)]
    old, new = graphs.from_version(execution.version), graphs.from_version(version)
    unchanged = {key for key in new.nodes if _same_node(old, new, key)}
    ancestors = _ancestors(new)
    bodies = {key: _body(new, key) for key in new.nodes if new.body_ports(key)}

    def clean(key: str) -> bool:
        inside = bodies.get(key, set())
        return key in unchanged and ancestors[key] <= unchanged and inside <= unchanged

    kept: dict[Ident, StepRun] = {}
    for step in steps:
        if step.status == StepStatus.SUCCEEDED and step.node_key in new.nodes and clean(step.node_key):
            kept[(step.node_key, step.scope)] = step
    ran = {(s.node_key, s.scope) for s in steps}
    reads_vars = {key for key in new.nodes if _reads_vars(new.nodes[key].config)}
    before = {(s.node_key, s.scope): {(e.node_key, e.scope) for e in steps[:i]} for i, s in enumerate(steps)}
    # A node the published version runs that the failed run did not (new, or changed and never run) may set variables anywhere in the order.
    unseen = {key for key in new.nodes if key not in unchanged and all(k != key for k, _scope in ran)}

    def stale_vars(ident: Ident) -> bool:
        return ident[0] in reads_vars and (bool(unseen) or any(earlier not in kept for earlier in before[ident]))

    # Dropping a step makes its node one that runs again, which may drop its descendants
    # (and the containers around it): repeat until nothing more changes.
    while True:
        again = {key for key, scope in ran if (key, scope) not in kept}
        dropped = [ident for ident in kept if (ancestors[ident[0]] | bodies.get(ident[0], set())) & again or stale_vars(ident)]
        if not dropped:
            break
        for ident in dropped:
            del kept[ident]
    chosen = {id(s) for s in kept.values()}
    return [s for s in steps if id(s) in chosen]


def _reads_vars(config: object) -> bool:
    """Whether any template of a node's config reads `vars` (found in the syntax tree, never run)."""
    for _where, source in templates_in(config, "config"):
        try:
            tree = parse(source)
        except ExpressionError:
            return True  # cannot tell: assume it does
        if any(name.name == "vars" and name.ctx == "load" for name in tree.find_all(jinja_nodes.Name)):
            return True
    return False


def _incoming(graph: graphs.Graph, key: str) -> set[tuple[str, str]]:
    return {(source, port) for source, port, target in graph.edges if target == key}


def _same_node(old: graphs.Graph, new: graphs.Graph, key: str) -> bool:
    before, after = old.nodes.get(key), new.nodes.get(key)
    if before is None or after is None:
        return False
    return before.action == after.action and before.config == after.config and _incoming(old, key) == _incoming(new, key)


def _ancestors(graph: graphs.Graph) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {key: set() for key in graph.nodes}
    for source, _port, target in graph.edges:
        if source != graphs.TRIGGER and target in parents:
            parents[target].add(source)
    found: dict[str, set[str]] = {}

    def walk(key: str) -> set[str]:
        if key not in found:
            found[key] = set()  # the graph is acyclic (checked at publish); this only guards the recursion
            result: set[str] = set()
            for parent in parents[key]:
                result |= {parent} | walk(parent)
            found[key] = result
        return found[key]

    for key in graph.nodes:
        walk(key)
    return found


def _body(graph: graphs.Graph, key: str) -> set[str]:
    """Every node inside a container's body (nested bodies included)."""
    seen: set[str] = set()
    queue = [target for port in graph.body_ports(key) for target in graph.targets(key, port)]
    while queue:
        node = queue.pop()
        if node in seen:
            continue
        seen.add(node)
        queue.extend(target for (source, _port), targets in graph.out.items() if source == node for target in targets)
    return seen
