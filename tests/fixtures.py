"""The shared test world: two tenants, one member per role, and an outsider.

In CI (CI=true) the suite refuses to run unless it is on PostgreSQL with pgvector and a
reachable Redis: a missing service is a failure, never a skip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.tenancy.roles import Role

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_sessionstart(session):
    if not IN_CI:
        return
    problems = []
    if not settings.USES_POSTGRES:
        problems.append("CI=true but DATABASE_URL does not point at PostgreSQL")
    if not settings.REDIS_URL:
        problems.append("CI=true but REDIS_URL is not set")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:
            problems.append(f"Redis at {settings.REDIS_URL} is unreachable: {exc}")
    if settings.USES_POSTGRES:
        import psycopg

        db = settings.DATABASES["default"]
        try:
            with psycopg.connect(
                host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None, dbname="postgres", connect_timeout=5
            ) as conn:
                row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
                if row is None:
                    problems.append("PostgreSQL has no 'vector' extension available (run scripts/setup_pgvector.sh)")
        except Exception as exc:
            problems.append(f"PostgreSQL is unreachable: {exc}")
    if problems:
        pytest.exit("CI services missing:\n  " + "\n  ".join(problems), returncode=3)


def needs_postgres():
    """Mark for tests that need PostgreSQL: they run in CI, where its absence already failed the session."""
    return pytest.mark.skipif(not settings.USES_POSTGRES and not IN_CI, reason="needs PostgreSQL (DATABASE_URL)")


def needs_redis():
    return pytest.mark.skipif(not settings.REDIS_URL and not IN_CI, reason="needs Redis (REDIS_URL)")


@dataclass
class World:
    tenant: Tenant
    other_tenant: Tenant
    owner: object
    admin: object
    editor: object
    operator: object
    viewer: object
    outsider: object  # member of other_tenant only

    def user(self, role: str):
        return getattr(self, role)


def make_user(username: str, password: str = "pw-for-tests-123"):
    return get_user_model().objects.create_user(username=username, email=f"{username}@example.test", password=password)


@pytest.fixture
def world(db) -> World:
    tenant = Tenant.objects.create(name="Acme", slug="acme")
    other = Tenant.objects.create(name="Globex", slug="globex")
    users = {}
    for role in Role.values:
        users[role] = make_user(f"{role}-a")
        Membership.objects.create(user=users[role], tenant=tenant, role=role)
    outsider = make_user("outsider")
    Membership.objects.create(user=outsider, tenant=other, role=Role.OWNER)
    return World(tenant=tenant, other_tenant=other, outsider=outsider, **users)


@pytest.fixture
def client_for(client):
    """`client_for(user)` → the test client, signed in as that user."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


def pytest_generate_tests(metafunc):
    """Parametrize `page` from the `pages` of a TenantAccessSuite subclass."""
    if "page" in metafunc.fixturenames and metafunc.cls is not None and hasattr(metafunc.cls, "pages"):
        pages = metafunc.cls.pages
        # A test that only applies to some pages says so with `applies_to(page)`.
        applies = getattr(metafunc.function, "applies_to", None)
        if applies is not None:
            pages = [p for p in pages if applies(p)]
        metafunc.parametrize("page", pages, ids=str)
