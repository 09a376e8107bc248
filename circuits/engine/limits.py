"""Per-tenant governor limits (like Salesforce's), with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields

from circuits.models import Tenant


@dataclass(frozen=True)
class Limits:
    max_steps: int = 1000  # step runs per execution
    max_loop_iterations: int = 1000  # per loop node
    max_seconds: float = 300.0  # wall time of one execution (waiting time excluded)
    max_payload_bytes: int = 1_000_000  # trigger payload and step outputs (as JSON)
    max_parallel_branches: int = 10
    max_subcircuit_depth: int = 5

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> Limits:
        overrides = tenant.limits or {}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in overrides.items() if k in known})


class LimitExceeded(Exception):
    def __init__(self, limit: str, value, message: str):
        super().__init__(f"Governor limit exceeded: {message} (limit {limit} = {value})")
        self.limit = limit
