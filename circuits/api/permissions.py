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

from circuits.api.authentication import remember_role
from circuits.api.exceptions import BadRequest
from circuits.models import ApiKey, Membership, Tenant
from circuits.permissions import has_perm, role_of

TENANT_HEADER = "X-Tenant"


def resolve_tenant(request: Request) -> Tenant:
    """The tenant this request acts in (raises 400/404 when it cannot be told or reached)."""
    named = (request.headers.get(TENANT_HEADER) or "").strip()
    if isinstance(request.auth, ApiKey):
        key = request.auth
        if named and named != key.tenant.slug:
            raise BadRequest(f"This API key belongs to tenant {key.tenant.slug!r}; drop the {TENANT_HEADER} header or use a key of {named!r}.")
        return key.tenant
    memberships = Membership.objects.filter(user=request.user).select_related("tenant").order_by("tenant__slug")
    if named:
        membership = memberships.filter(tenant__slug=named).first()
        if membership is None:
            # Fail closed: a tenant the caller is not in is indistinguishable from one that does not exist.
            raise exceptions.NotFound(f"No tenant {named!r} among yours.")
    else:
        found = list(memberships[:11])
        if not found:
            raise exceptions.PermissionDenied("You are not a member of any tenant.")
        if len(found) > 1:
            slugs = ", ".join(m.tenant.slug for m in found[:10]) + (", …" if len(found) > 10 else "")
            raise BadRequest(f"You belong to several tenants ({slugs}); name one with the {TENANT_HEADER} header (its slug).")
        membership = found[0]
    remember_role(request.user, membership.tenant, membership.role)
    return membership.tenant


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
