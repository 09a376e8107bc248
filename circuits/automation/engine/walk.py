"""Which node of a scope runs next: joins and dead-path elimination.

Every edge of a region (circuits/automation/engine/graph.py) is *pending* until its source settles,
then *taken* (the source ran and left by that edge's port) or *dead* (the source left by
another port, or never ran). A node is ready once every incoming edge has settled:

- at least one edge taken, or the node is a start of the region: it runs, once;
- every edge dead: the node is *dead* — it does not run, and all its outgoing edges die
  with it, so the paths behind it are settled too (dead-path elimination, as a BPMN
  inclusive join or Airflow's `none_failed_min_one_success`).

The order is deterministic: ready nodes run first in, first out; when a step finishes,
its outgoing edges settle in the order they were drawn, and a node whose last edge that
settles is queued at that moment; dead paths settle at once, before the next node runs.
The same graph with the same step outcomes therefore always runs in the same order, which
is what lets a resumed execution walk the graph again and reuse the steps that finished.
"""

from __future__ import annotations

from collections import deque

from circuits.automation.engine.graph import Region


class Walk:
    def __init__(self, region: Region):
        self.region = region
        self.pending = dict(region.incoming)  # incoming edges not settled yet
        self.taken: set[str] = set(region.starts)  # nodes with a way in: a start, or a taken edge
        self.ready: deque[str] = deque()
        queued: set[str] = set()
        for key in region.starts:
            if key in region.nodes and not self.pending[key] and key not in queued:
                queued.add(key)
                self.ready.append(key)

    def next(self) -> str | None:
        """The next node to run, or None when the scope is finished."""
        return self.ready.popleft() if self.ready else None

    def settle(self, key: str, port: str) -> list[str]:
        """`key` finished and left by `port`: returns the nodes this leaves dead, in order."""
        dead: list[str] = []
        exits = deque((edge_port == port, target) for edge_port, target in self.region.outgoing[key])
        while exits:
            taken, target = exits.popleft()
            if taken:
                self.taken.add(target)
            self.pending[target] -= 1
            if self.pending[target]:
                continue
            if target in self.taken:
                self.ready.append(target)
            else:
                dead.append(target)
                exits.extend((False, after) for _port, after in self.region.outgoing[target])
        return dead

    def unsettled(self) -> list[str]:
        """Nodes still waiting for an edge when nothing is ready: only possible in a cyclic graph."""
        return sorted(k for k, n in self.pending.items() if n)
