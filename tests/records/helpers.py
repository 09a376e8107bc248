"""Small builders shared by the record-layer tests and the data actions' tests."""

from __future__ import annotations

from actions.sdk import Context
from circuits.automation.engine.context import DirectContext
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.models.version import CircuitVersion
from circuits.tenancy.models.tenants import Tenant


def bare_execution(tenant: Tenant, slug: str = "records-test") -> Execution:
    """A real execution row of `tenant` (what the engine passes to the record services)."""
    circuit = Circuit.objects.create(tenant=tenant, name=slug, slug=slug)
    version = CircuitVersion.objects.create(tenant=tenant, circuit=circuit, number=1)
    return Execution.objects.create(tenant=tenant, circuit=circuit, version=version)


def context(tenant: Tenant, execution: Execution | None = None) -> Context:
    return DirectContext(tenant=tenant, execution=execution, node_key="n1", data={"trigger": {}, "steps": {}, "vars": {}})
