"""Small builders shared by the record-layer tests and the data actions' tests."""

from __future__ import annotations

from actions.sdk import Context
from circuits.engine.context import DirectContext
from circuits.models import Circuit, CircuitVersion, Execution, Tenant


def bare_execution(tenant: Tenant, slug: str = "records-test") -> Execution:
    """A real execution row of `tenant` (what the engine passes to the record services)."""
    circuit = Circuit.objects.create(tenant=tenant, name=slug, slug=slug)
    version = CircuitVersion.objects.create(tenant=tenant, circuit=circuit, number=1)
    return Execution.objects.create(tenant=tenant, circuit=circuit, version=version)


def context(tenant: Tenant, execution: Execution | None = None) -> Context:
    return DirectContext(tenant=tenant, execution=execution, node_key="n1", data={"trigger": {}, "steps": {}, "vars": {}})
