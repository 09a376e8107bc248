from __future__ import annotations

import pytest

from actions.sdk import Context
from circuits.automation.engine.context import DirectContext


@pytest.fixture
def ctx(world) -> Context:
    """A step context in tenant "acme" with an empty outbound allow-list."""
    return DirectContext(tenant=world.tenant, execution=None, node_key="n1", data={"trigger": {}, "steps": {}, "vars": {}})


@pytest.fixture
def allow(world):
    """`allow("127.0.0.1:8080", …)` sets the tenant's outbound allow-list."""

    def _allow(*entries: str) -> None:
        world.tenant.outbound_allowlist = list(entries)
        world.tenant.save(update_fields=["outbound_allowlist"])

    return _allow
