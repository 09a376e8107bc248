"""API tests count requests in a throttle store of their own, fresh for each test.

The shared cache is Redis in CI and other suites use it at the same time, so it is never
cleared here; ids repeat across tests on SQLite, so counts must not carry over either.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache

from circuits.web.api.throttling import KeyRateThrottle, TenantRateThrottle


@pytest.fixture(autouse=True)
def fresh_throttle_counts(monkeypatch):
    store = LocMemCache(f"api-throttle-{uuid.uuid4()}", {})
    monkeypatch.setattr(KeyRateThrottle, "cache", store)
    monkeypatch.setattr(TenantRateThrottle, "cache", store)
    return store
