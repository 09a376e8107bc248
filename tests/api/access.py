"""The permission suite of the API, the counterpart of tests/access.py for pages.

Every endpoint is checked for: anonymous → 401 (with the Bearer challenge), a bad key →
401, the other tenant's objects → 404, an outsider naming the tenant → 404, and each
role — through an API key and through the browser session — allowed or refused (403) by
its permissions, a Django superuser no less refused than their role. Each check starts
from a fresh world, so writes do not interfere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from circuits.tenancy.roles import ROLE_PERMISSIONS, Role
from tests.api.helpers import Objects, client_as, key_client, make_objects, session_client


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: Callable[[Objects], str]
    perm: str
    data: Callable[[Objects], Any] = field(default=lambda objs: None)
    ok: tuple[int, ...] = (200,)
    # The same endpoint aimed at the other tenant's object (None: not object-addressed).
    cross: Callable[[Objects], str] | None = None

    def __str__(self) -> str:
        return f"{self.method}-{self.name}"


def call(client, endpoint: Endpoint, objs: Objects, path: str | None = None):
    data = endpoint.data(objs)
    target = path or endpoint.path(objs)
    if endpoint.method in ("get", "delete"):
        return getattr(client, endpoint.method)(target)
    return getattr(client, endpoint.method)(target, data if data is not None else {}, format="json")


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


class ApiAccessSuite:
    pages: list[Endpoint] = []

    @pytest.fixture
    def objs(self, world) -> Objects:
        return make_objects(world)

    def test_anonymous_gets_401_with_a_bearer_challenge(self, world, objs, page):
        from rest_framework.test import APIClient

        response = call(APIClient(), page, objs)
        assert_problem(response, 401)
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_an_unknown_key_gets_401(self, world, objs, page):
        response = call(key_client("cos_" + "x" * 43), page, objs)
        assert_problem(response, 401)

    def test_the_other_tenants_objects_are_404(self, world, objs, page):
        response = call(client_as(world, "owner"), page, objs, page.cross(objs))
        assert_problem(response, 404)

    test_the_other_tenants_objects_are_404.applies_to = lambda page: page.cross is not None  # addressed by an object

    def test_an_outsider_naming_the_tenant_gets_404(self, world, objs, page):
        response = call(session_client(world.outsider, world.tenant.slug), page, objs)
        assert_problem(response, 404)

    @pytest.mark.parametrize("role", Role.values)
    def test_each_roles_key_is_allowed_or_refused_by_its_permissions(self, world, objs, page, role):
        response = call(client_as(world, role), page, objs)
        if page.perm in ROLE_PERMISSIONS[role]:
            assert response.status_code in page.ok, f"{role} should be allowed {page}: {response.status_code} {response.content[:300]}"
        else:
            assert_problem(response, 403)

    @pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.VIEWER])
    def test_each_roles_session_is_allowed_or_refused_by_its_permissions(self, world, objs, page, role):
        response = call(session_client(world.user(role)), page, objs)  # one tenant only: no X-Tenant needed
        if page.perm in ROLE_PERMISSIONS[role]:
            assert response.status_code in page.ok, f"{role} should be allowed {page}: {response.status_code} {response.content[:300]}"
        else:
            assert_problem(response, 403)

    def test_a_key_never_has_more_than_its_role(self, world, objs, page):
        """An owner's key made with the viewer role is refused whatever a viewer is refused."""
        from tests.api.helpers import make_key

        response = call(key_client(make_key(world.tenant, world.owner, Role.VIEWER)), page, objs)
        if page.perm in ROLE_PERMISSIONS[Role.VIEWER]:
            assert response.status_code in page.ok
        else:
            assert_problem(response, 403)

    def test_a_superusers_key_and_session_get_no_more_than_their_role(self, world, objs, page):
        """A "viewer" key of a superuser is a viewer key, their session a viewer's; a superuser outsider gets 404."""
        from tests.api.helpers import make_key

        users = type(world.viewer).objects
        users.filter(pk__in=[world.viewer.pk, world.outsider.pk]).update(is_superuser=True, is_staff=True)
        world.viewer.refresh_from_db()
        world.outsider.refresh_from_db()
        assert_problem(call(session_client(world.outsider, world.tenant.slug), page, objs), 404)
        if page.perm not in ROLE_PERMISSIONS[Role.VIEWER]:
            assert_problem(call(key_client(make_key(world.tenant, world.viewer, Role.VIEWER)), page, objs), 403)
            assert_problem(call(session_client(world.viewer), page, objs), 403)
