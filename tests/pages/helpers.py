"""Data for the page tests: executions (with steps) made quickly, without running anything."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from tests.engine.helpers import build, chain, node


def circuit(world, slug: str = "pages-demo", tenant=None) -> Circuit:
    """A published two-step circuit (trigger → a → b) of the world's tenant."""
    existing = Circuit.objects.filter(tenant=world.tenant, slug=slug).first()
    if existing:
        return existing
    return build(world, slug, [node("a", "util.transform", {"template": 1}), node("b", "util.transform", {"template": 2})], chain("a", "b"))


def other_tenant_execution(world) -> Execution:
    """An execution of the other tenant (for the 404 checks), built straight in the database."""
    from circuits.automation.models.version import CircuitVersion

    theirs = Circuit.objects.create(tenant=world.other_tenant, name="Theirs", slug="theirs")
    version = CircuitVersion.objects.create(tenant=world.other_tenant, circuit=theirs, number=1, status="published")
    return Execution.objects.create(tenant=world.other_tenant, circuit=theirs, version=version, status=ExecutionStatus.FAILED, input={"secret": "x"})


def execution(world, status: str = ExecutionStatus.SUCCEEDED, *, slug: str = "pages-demo", payload=None, steps: bool = True, **fields) -> Execution:
    """An execution row as the engine would leave it, with one step run per node (and a retry)."""
    c = circuit(world, slug)
    version = c.versions.get(status="published")
    now = timezone.now()
    finished = status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)
    defaults = {
        "tenant": world.tenant,
        "circuit": c,
        "version": version,
        "status": status,
        "input": payload if payload is not None else {"email": "ada@example.com"},
        "trigger_type": "manual",
        "started_at": now - timedelta(seconds=2),
        "finished_at": now if finished else None,
        "duration_ms": 2000 if finished else None,
        "error": {"message": "boom at b", "node": "b", "type": "action"} if status == ExecutionStatus.FAILED else None,
    }
    defaults.update(fields)
    e = Execution.objects.create(**defaults)
    if steps:
        start = e.started_at
        StepRun.objects.bulk_create(
            [
                StepRun(
                    execution=e,
                    node_key="a",
                    action="util.transform",
                    status="succeeded",
                    port="next",
                    input={"x": 1},
                    output={"y": 2},
                    started_at=start,
                    finished_at=start + timedelta(milliseconds=300),
                    duration_ms=300,
                ),
                StepRun(
                    execution=e,
                    node_key="b",
                    action="util.transform",
                    attempt=1,
                    status="failed",
                    error={"message": "first try failed"},
                    started_at=start + timedelta(milliseconds=300),
                    finished_at=start + timedelta(milliseconds=700),
                    duration_ms=400,
                ),
                StepRun(
                    execution=e,
                    node_key="b",
                    action="util.transform",
                    attempt=2,
                    status="failed" if status == ExecutionStatus.FAILED else "succeeded",
                    error={"message": "boom at b"} if status == ExecutionStatus.FAILED else None,
                    output=None if status == ExecutionStatus.FAILED else {"z": 3},
                    started_at=start + timedelta(milliseconds=900),
                    finished_at=start + timedelta(milliseconds=1900),
                    duration_ms=1000,
                ),
            ]
        )
    return e
