"""Engine overhead per step: no-op steps run in process, with and without persistence."""

from __future__ import annotations

from bench.common import bench_world, heading, report, timed

STEPS = 20
REPEAT = 30


def _circuit(tenant, user, slug: str, action: str = "util.transform"):
    from circuits.automation.models.circuit import Circuit
    from circuits.automation.services.circuits import CreateCircuit
    from circuits.automation.services.versions import PublishDraft, SaveDraft

    existing = Circuit.objects.for_tenant(tenant).filter(slug=slug).first()
    if existing:
        return existing
    circuit = CreateCircuit(tenant, user, name=slug, slug=slug).execute()
    nodes = [{"key": f"s{i}", "action": action, "config": {"template": i}} for i in range(STEPS)]
    edges = [{"source": "trigger" if i == 0 else f"s{i - 1}", "target": f"s{i}"} for i in range(STEPS)]
    SaveDraft(tenant, user, circuit, {"nodes": nodes, "edges": edges}).execute()
    PublishDraft(tenant, user, circuit).execute()
    return circuit


def main() -> None:
    from circuits.automation.dispatch import claim, create_execution
    from circuits.automation.engine.runner import Engine

    class NoPersistEngine(Engine):
        """Measures the engine's own work: the StepRun writes are skipped."""

        def _close(self, step):
            from django.utils import timezone

            step.finished_at = timezone.now()
            if step.status == "succeeded":
                self.done[(step.node_key, step.scope)] = step

    tenant, user = bench_world()
    circuit = _circuit(tenant, user, "bench-noop")
    heading(f"engine: {STEPS} no-op steps per execution, in process")

    def run(engine_class):
        execution = claim(create_execution(circuit, {"n": 1}).pk)
        result = engine_class(execution).run()
        assert result.status == "succeeded", result.error

    for label, engine_class in (("with persistence", Engine), ("without step persistence", NoPersistEngine)):
        run(engine_class)  # warm the compiled-graph and template caches
        samples = timed(lambda engine_class=engine_class: run(engine_class), REPEAT)
        report(f"per execution ({label})", samples)
        report(f"per step ({label})", [s / STEPS * 1000 for s in samples], unit="µs")
