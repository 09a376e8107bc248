"""Rate limits per API key (or signed-in user) and per tenant, counted in the shared cache.

The cache is Redis in production, so every web process counts against the same budget.
Rates are read from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] on each request rather than
once at import (DRF's default), so a settings override takes effect at once.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from circuits.tenancy.models.access import ApiKey


class _ApiThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class KeyRateThrottle(_ApiThrottle):
    """One budget per API key; a browser session is counted per user, anyone else per address."""

    scope = "api_key"

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class TenantRateThrottle(_ApiThrottle):
    """One budget for everything a tenant's keys and members do together."""

    scope = "api_tenant"

    def get_cache_key(self, request, view) -> str | None:
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            return None  # not resolved (schema and docs views): nothing to count against
        return self.cache_format % {"scope": self.scope, "ident": f"tenant-{tenant.pk}"}
