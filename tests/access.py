"""One inherited permission suite for every tenant page and endpoint.

A test class inherits `TenantAccessSuite` and lists its `pages`; every page is then
checked for: anonymous → sign-in (or 401/403 for the API), outsider → 404, unknown
tenant → 404, a role without the permission → 403, a role with it → success, and a
Django superuser holding a role without the permission → 403 all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from circuits.tenancy.roles import ROLE_PERMISSIONS, Role


@dataclass(frozen=True)
class Page:
    name: str
    path: Callable[[object], str]  # world → path under the world's tenant
    perm: str = "view"
    method: str = "get"
    data: Callable[[object], dict] = field(default=lambda world: {})
    ok: tuple[int, ...] = (200, 302)

    def __str__(self) -> str:
        return f"{self.method}-{self.name}"


def call(client, page: Page, world, path: str | None = None):
    target = path or page.path(world)
    if page.method == "get":
        return client.get(target)
    return client.post(target, page.data(world))


class TenantAccessSuite:
    pages: list[Page] = []

    def test_anonymous_is_sent_to_sign_in(self, client, world, page):
        response = call(client, page, world)
        assert response.status_code in (302, 401, 403)
        if response.status_code == 302:
            assert "/accounts/login/" in response["Location"]

    def test_outsider_gets_404(self, client_for, world, page):
        response = call(client_for(world.outsider), page, world)
        assert response.status_code == 404

    def test_unknown_tenant_gets_404(self, client_for, world, page):
        path = page.path(world).replace(f"/t/{world.tenant.slug}/", "/t/no-such-tenant/")
        response = call(client_for(world.owner), page, world, path)
        assert response.status_code == 404

    def test_each_role_is_allowed_or_refused_by_its_permissions(self, client_for, world, page, django_user_model):
        for role in Role.values:
            response = call(client_for(world.user(role)), page, world)
            if page.perm in ROLE_PERMISSIONS[role]:
                assert response.status_code in page.ok, f"{role} should be allowed {page}: {response.status_code}"
            else:
                assert response.status_code == 403, f"{role} should be refused {page}: {response.status_code}"

    def test_a_superuser_gets_no_more_than_their_role(self, client_for, world, page):
        """Superuser status opens the admin site, never more of a tenant than the member's role (or none)."""
        # A viewer where the page needs more than viewing; otherwise someone who is no member at all.
        user = world.outsider if page.perm in ROLE_PERMISSIONS[Role.VIEWER] else world.viewer
        type(user).objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
        user.refresh_from_db()
        response = call(client_for(user), page, world)
        expected = 404 if user == world.outsider else 403
        who = "outsider" if expected == 404 else "viewer"
        assert response.status_code == expected, f"a superuser {who} should get {expected} on {page}: {response.status_code}"
