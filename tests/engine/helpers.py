"""Building circuits for engine tests through the same services the UI and API use."""

from __future__ import annotations

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.models.version import CircuitVersion
from circuits.automation.services.circuits import CreateCircuit
from circuits.automation.services.versions import PublishDraft, SaveDraft, SaveTrigger


def node(key: str, action: str, config: dict | None = None, **extra) -> dict:
    return {"key": key, "action": action, "config": config or {}, **extra}


def edge(source: str, target: str, port: str = "next") -> dict:
    return {"source": source, "port": port, "target": target}


def chain(*keys: str) -> list[dict]:
    """trigger → a → b → c."""
    return [edge(a, b) for a, b in zip(("trigger", *keys), keys, strict=False)]


def build(world, slug: str, nodes: list[dict], edges: list[dict], *, triggers=(), publish: bool = True, actor=None) -> Circuit:
    actor = actor or world.owner
    circuit = CreateCircuit(world.tenant, actor, name=slug.replace("-", " ").title(), slug=slug).execute()
    SaveDraft(world.tenant, actor, circuit, {"nodes": nodes, "edges": edges}).execute()
    for t in triggers:
        SaveTrigger(world.tenant, actor, circuit, type=t["type"], config=t.get("config", {})).execute()
    if publish:
        PublishDraft(world.tenant, actor, circuit).execute()
    return circuit


def run(circuit: Circuit, payload: dict | None = None, **kwargs) -> Execution:
    from circuits.automation.dispatch import create_execution
    from circuits.automation.engine.runner import run_now

    return run_now(create_execution(circuit, payload or {}, **kwargs))


def steps(execution: Execution) -> dict[str, str]:
    return {f"{s.node_key}{s.scope}": s.status for s in execution.steps.order_by("pk")}


def published(circuit: Circuit) -> CircuitVersion:
    return circuit.versions.get(status="published")


def drain(max_rounds: int = 20) -> int:
    """Run every queued execution (and those they start) in this process, like a worker would."""
    from circuits.automation.engine.runner import run_now

    ran = 0
    for _ in range(max_rounds):
        queued = list(Execution.objects.filter(status="queued").order_by("pk"))
        if not queued:
            return ran
        for execution in queued:
            run_now(execution)
            ran += 1
    raise AssertionError("executions kept queuing more executions")
