"""Which steps a node's templates read, and whether those steps can have run before it.

Missing data is empty at run time (docs/expressions.md), so a template that reads a step which
never runs before its node — a typo (`steps.set_variabel_1`), a step further down the graph, a
step on a parallel sibling branch — would quietly render nothing. Validation (the builder's
Validate, saving, publishing) therefore reports every such reference, naming the node, the
config field and the expression.

References are found in the templates' syntax trees (Jinja's parser; nothing is compiled or
run): `steps.<key>…`, `steps['<key>']…`, `steps.get('<key>')` and `steps | attr('<key>')`; `loops.<key>` and `loop`,
which only exist inside a Loop's body. Keys computed at run time (`steps[name]`) cannot be
checked and are left alone, as are templates that assign a name of their own to `steps`.

*Upstream* means there is a path of edges from the step to the node. A container's body
ports are edges like any other, and whatever follows a container (its `done` or `error` port)
also has the container's body upstream: the container finishes only after its body ran
(a loop's body steps then hold their last iteration). A container's own output does not
exist yet inside its body: there, use `loop.item` / `loops.<key>`.
"""

from __future__ import annotations

import difflib
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from jinja2 import nodes

from circuits.automation.engine.expressions import ExpressionError, parse, templates_in
from circuits.automation.engine.expressions.helpers import DICT_METHODS

LOOP_ACTION = "control.loop"  # the container whose body sees `loop` and `loops.<key>`
_TEXT_CHARS = 80


class GraphLike(Protocol):
    """What this check needs of circuits.automation.engine.graph.Graph (kept apart from it to avoid a cycle)."""

    nodes: Mapping[str, Any]  # key → NodeSpec (key, action, config)
    edges: list[tuple[str, str, str]]  # (source, port, target); the source may be the trigger

    def body_ports(self, key: str) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Reference:
    """One read of `steps.<key>`, `loops.<key>` or `loop` in a template."""

    name: str  # "steps", "loops" or "loop"
    key: str | None  # the step key read; None for `loop`
    text: str  # how the template spells it, e.g. "steps.score.output.score"


# --- finding references in a template --------------------------------------------------------

_CHAIN = (nodes.Getattr, nodes.Getitem)


def _segment(node: nodes.Getattr | nodes.Getitem) -> tuple[Any, str]:
    """(the key read — None when computed at run time —, how it is spelled)."""
    if isinstance(node, nodes.Getattr):
        return node.attr, f".{node.attr}"
    if isinstance(node.arg, nodes.Const):
        return node.arg.value, f"[{node.arg.value!r}]"
    return None, "[…]"


def _chain(node: nodes.Expr) -> tuple[str | None, list[Any], str]:
    """For `a.b['c'].d`: ("a", ["b", "c", "d"], "a.b['c'].d"); the root is None unless a name."""
    segments: list[tuple[Any, str]] = []
    while isinstance(node, _CHAIN):
        segments.append(_segment(node))
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load":
        return None, [], ""
    segments.reverse()
    text = node.name + "".join(spelled for _, spelled in segments)
    return node.name, [key for key, _ in segments], text


def _short(text: str) -> str:
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 1] + "…"


def _walk(tree: nodes.Node) -> Iterator[tuple[nodes.Node, nodes.Node | None, bool]]:
    """(node, its parent, whether it is inside a `{% for %}` body) for every node; not recursive,
    so a deeply nested template cannot exhaust the stack."""
    stack: list[tuple[nodes.Node, nodes.Node | None, bool]] = [(tree, None, False)]
    while stack:
        node, parent, in_for = stack.pop()
        yield node, parent, in_for
        if isinstance(node, nodes.For):
            # Jinja's own `loop` exists in the body only (not in the iterable, filter or else).
            children = [(child, node, in_for) for child in (node.target, node.iter, node.test) if child is not None]
            children += [(child, node, True) for child in node.body]
            children += [(child, node, in_for) for child in node.else_]
        else:
            children = [(child, node, in_for) for child in node.iter_child_nodes()]
        stack.extend(reversed(children))


def references(source: str) -> list[Reference]:
    """The step and loop references in one template, in the order they appear.

    A template that does not parse has none (check_value reports it)."""
    try:
        tree = parse(source)
    except ExpressionError:
        return []
    found: list[Reference] = []
    walked = list(_walk(tree))
    # A template may name something `steps` (`{% set steps = … %}`, a macro argument): then its
    # `steps` is not the data and nothing in it is checked; the same for `loop` and `loops`.
    own = {n.name for n, _, _ in walked if isinstance(n, nodes.Name) and n.ctx in ("store", "param")}
    for node, parent, in_for in walked:
        if isinstance(node, _CHAIN):
            if isinstance(parent, _CHAIN) and parent.node is node:
                continue  # the outermost access of a chain stands for all of it
            root, keys, text = _chain(node)
            if root in ("steps", "loops") and root not in own and isinstance(keys[0], str):
                found.append(Reference(root, keys[0], _short(text)))
            elif root == "loop" and root not in own and not in_for:
                found.append(Reference("loop", None, _short(text)))
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) and node.node.attr == "get":
            # steps.get('key'): the dict method, unless there is a step called `get` (checked later)
            target = node.node.node
            if isinstance(target, nodes.Name) and target.name == "steps" and "steps" not in own and node.args:
                first = node.args[0]
                if isinstance(first, nodes.Const) and isinstance(first.value, str):
                    found.append(Reference("steps", first.value, _short(f"steps.get({first.value!r})")))
        elif isinstance(node, nodes.Filter) and node.name == "attr" and isinstance(node.node, nodes.Name) and node.node.name == "steps":
            # steps | attr('key'): the same read as steps.key, spelled as a filter
            first = node.args[0] if node.args else None
            if "steps" not in own and isinstance(first, nodes.Const) and isinstance(first.value, str):
                found.append(Reference("steps", first.value, _short(f"steps|attr({first.value!r})")))
        elif isinstance(node, nodes.Name) and node.name == "loop" and node.ctx == "load" and not in_for and "loop" not in own:
            if not (isinstance(parent, _CHAIN) and parent.node is node):  # else its chain was counted
                found.append(Reference("loop", None, "loop"))
    return found


# --- the graph: what is upstream of what -----------------------------------------------------


@dataclass
class _Order:
    """Ancestors and enclosing containers of every node of one graph."""

    graph: GraphLike

    def __post_init__(self) -> None:
        keys = self.graph.nodes
        out: dict[str, list[str]] = defaultdict(list)
        for source, _port, target in self.graph.edges:
            if source in keys and target in keys:
                out[source].append(target)
        self.bodies: dict[str, set[str]] = {}
        body_ports: dict[str, tuple[str, ...]] = {}
        for key in keys:
            try:
                body_ports[key] = tuple(self.graph.body_ports(key))
            except Exception:  # a half-written container config: validate() reports it
                body_ports[key] = ()
            if body_ports[key]:
                starts = [t for s, p, t in self.graph.edges if s == key and p in body_ports[key] and t in keys]
                self.bodies[key] = _reachable(out, starts) - {key}
        self.parents: dict[str, set[str]] = defaultdict(set)
        for source, port, target in self.graph.edges:
            if source not in keys or target not in keys:
                continue
            self.parents[target].add(source)
            if source in self.bodies and port not in body_ports[source]:
                self.parents[target] |= self.bodies[source]  # after the container: its body ran
        self._ancestors: dict[str, set[str]] = {}

    def ancestors(self, key: str) -> set[str]:
        if key not in self._ancestors:
            self._ancestors[key] = _reachable(self.parents, list(self.parents.get(key, ()))) - {key}
        return self._ancestors[key]

    def containers_of(self, key: str) -> list[str]:
        return [container for container, body in self.bodies.items() if key in body]


def _reachable(adjacency: Mapping[str, Iterable[str]], starts: list[str]) -> set[str]:
    seen: set[str] = set()
    queue = deque(starts)
    while queue:
        key = queue.popleft()
        if key not in seen:
            seen.add(key)
            queue.extend(adjacency.get(key, ()))
    return seen


# --- the check -------------------------------------------------------------------------------


def _problem(graph: GraphLike, order: _Order, key: str, ref: Reference) -> str | None:
    """Why `ref` in node `key` reads nothing that can have run; None when it is fine."""
    nodes_ = graph.nodes
    containers = order.containers_of(key)
    if ref.name == "loop":
        if any(nodes_[c].action == LOOP_ACTION for c in containers):
            return None
        return "is only defined inside the body of a Loop step, and this step is not in one"
    target = ref.key
    assert target is not None
    if ref.name == "loops":
        if target in containers and nodes_[target].action == LOOP_ACTION:
            return None
        loops = [c for c in containers if nodes_[c].action == LOOP_ACTION]
        inside = f"it runs inside {', '.join(repr(c) for c in loops)}" if loops else "it is not inside any Loop"
        return f"is only defined inside the body of a Loop step {target!r}, and this step is not in one ({inside})"
    if ref.text.startswith("steps.get(") and "get" in nodes_:
        return None  # `steps.get` is the step called get here, checked as such
    if target not in nodes_:
        if target in DICT_METHODS and ref.text.startswith(f"steps.{target}"):
            return None  # steps.keys(), steps.items(): the dict's own methods, not a step
        close = difflib.get_close_matches(target, list(nodes_), n=1)
        hint = f" — did you mean {close[0]!r}?" if close else ""
        return f"reads step {target!r}, which does not exist{hint}"
    if target == key:
        return "reads this step's own output, which does not exist while it runs"
    if target in containers:
        return f"reads step {target!r}, the container this step runs inside: its output only exists once its body is done" + (
            f" (inside the body use loop.item or loops.{target})" if nodes_[target].action == LOOP_ACTION else ""
        )
    if target in order.ancestors(key):
        return None
    if key in order.ancestors(target):
        return f"reads step {target!r}, which runs after this step (it is downstream of it)"
    return f"reads step {target!r}, which is not upstream of this step: no path of edges leads from it here (it is on a parallel branch or another path)"


def check_references(graph: GraphLike) -> list[dict]:
    """Every reference to a step (or loop) that cannot have run before its node, as graph errors."""
    order = _Order(graph)
    errors: list[dict] = []
    for key, node in graph.nodes.items():
        seen: set[tuple[str, str]] = set()
        for where, source in templates_in(node.config, "config"):
            for ref in references(source):
                if (where, ref.text) in seen:
                    continue
                seen.add((where, ref.text))
                problem = _problem(graph, order, key, ref)
                if problem is not None:
                    errors.append(
                        {
                            "message": f"step {key!r}, {where}: {ref.text} {problem}",
                            "node": key,
                            "field": "config",
                            "path": where,
                            "expression": ref.text,
                            **({"step": ref.key} if ref.key is not None else {}),
                        }
                    )
    return errors
