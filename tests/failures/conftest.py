"""The failure-handling tests use the notify family's real local servers (a fake Slack, aiosmtpd)."""

from __future__ import annotations

import uuid

import pytest

from actions.notify.tests.conftest import slack, smtp_server  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def fresh_cache_prefix(settings):
    """Digest windows and delivery marks live in the shared cache (Redis in CI): a key space per test."""
    from django.core.cache import cache

    old = cache.key_prefix
    cache.key_prefix = f"{old}-failures-{uuid.uuid4().hex[:8]}"
    yield
    cache.key_prefix = old


@pytest.fixture
def eager():
    """Celery tasks run in this process when sent (the delivery task, the error circuit's run)."""
    from circuitos_site.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
