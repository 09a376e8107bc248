"""The tenant of a request and the role check every API view starts with.

The tenant comes from the API key; a signed-in browser user names it with the `X-Tenant`
header (its slug), which may be left out by someone who belongs to one tenant only.
Object-level checks (a guardian grant on one circuit) are left to the view and the
services, which is why views whose permission depends on the object declare no
tenant-wide permission for that method.
"""

from __future__ import annotations

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from circuits.tenancy.models.access import ApiKey
from circuits.tenancy.models.tenants import Tenant
from circuits.tenancy.permissions import has_perm, role_of
from circuits.tenancy.resolve import TenantNotFound, key_tenant, member_slugs, member_tenant, only_tenant
from circuits.web.api.exceptions import BadRequest

TENANT_HEADER = "X-Tenant"


def resolve_tenant(request: Request) -> Tenant:
    """The tenant this request acts in (raises 400/404 when it cannot be told or reached)."""
    named = (request.headers.get(TENANT_HEADER) or "").strip()
    if isinstance(request.auth, ApiKey):
        tenant = key_tenant(request.auth)
        if named and named != tenant.slug:
            raise BadRequest(f"This API key belongs to tenant {tenant.slug!r}; drop the {TENANT_HEADER} header or use a key of {named!r}.")
        return tenant
    if named:
        try:
            return member_tenant(request.user, named)
        except TenantNotFound:
            # Fail closed: a tenant the caller is not in is indistinguishable from one that does not exist.
            raise exceptions.NotFound(f"No tenant {named!r} among yours.") from None
    tenant = only_tenant(request.user)
    if tenant is None:
        slugs = member_slugs(request.user, 11)
        if not slugs:
            raise exceptions.PermissionDenied("You are not a member of any tenant.")
        shown = ", ".join(slugs[:10]) + (", …" if len(slugs) > 10 else "")
        raise BadRequest(f"You belong to several tenants ({shown}); name one with the {TENANT_HEADER} header (its slug).")
    return tenant


class TenantPermission(permissions.BasePermission):
    """Authenticated, in a resolvable tenant, and holding the view's tenant-wide permission for the method."""

    def has_permission(self, request: Request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF turns this into 401 with the Bearer challenge
        tenant = resolve_tenant(request)
        request.tenant = tenant
        view.tenant = tenant
        perm = view.required_perm(request.method) if hasattr(view, "required_perm") else "view"
        if perm and not has_perm(request.user, tenant, perm):
            role = role_of(request.user, tenant)
            raise exceptions.PermissionDenied(f"Your role ({role}) does not allow you to {perm.replace('_', ' ')} here.")
        return True
