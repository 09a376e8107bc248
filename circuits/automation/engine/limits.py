"""Per-tenant governor limits (like Salesforce's), with safe defaults and platform maxima.

A tenant's owners and admins may change each limit, but only within [minimum, platform
maximum]; the maxima are settings (`ENGINE_PLATFORM_MAX_STEPS`, …), so a tenant cannot buy
itself a thousand-year execution or a trillion steps. `Limits.for_tenant` clamps what is
stored too, so a row saved before the maxima existed (or written around the service) cannot
lift them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from django.conf import settings

from circuits.core.numbers import finite_number
from circuits.tenancy.models.tenants import Tenant


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
        overrides = tenant.limits if isinstance(tenant.limits, dict) else {}
        return cls(**{name: clamp(name, overrides.get(name, default(name))) for name in NAMES})


NAMES: tuple[str, ...] = tuple(f.name for f in fields(Limits))
WHOLE: frozenset[str] = frozenset(f.name for f in fields(Limits) if f.type in (int, "int"))
# The setting holding each limit's platform maximum (circuitos_site/settings.py).
MAXIMUM_SETTINGS: dict[str, str] = {name: "ENGINE_PLATFORM_" + name.upper() for name in NAMES}
MINIMUM = 1


def maximum(name: str) -> int:
    return int(getattr(settings, MAXIMUM_SETTINGS[name]))


def default(name: str) -> int | float:
    """The limit when the tenant sets none (never above the platform maximum)."""
    return min(getattr(Limits, name), maximum(name))


def validate(name: str, value: object) -> int | float:
    """`value` (a number or its text) as limit `name` may be set; ValueError naming the limit and the bound."""
    try:
        number = finite_number(value, integer=name in WHOLE, minimum=MINIMUM)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if number > maximum(name):
        raise ValueError(f"{name}: must be at most {maximum(name)}, the platform's maximum ({MAXIMUM_SETTINGS[name]})")
    return number


def clamp(name: str, value: object) -> int | float:
    """A stored value made safe: not a usable number → the default; outside the bounds → the nearest bound."""
    try:
        number = finite_number(value)
    except ValueError:
        number = default(name)
    number = min(max(number, MINIMUM), maximum(name))
    return int(number) if name in WHOLE else float(number)
