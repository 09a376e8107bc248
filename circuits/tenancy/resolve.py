"""The one place that resolves the tenant a request acts in — pages, the API, WebSockets.

Fails closed: a tenant the caller is not a member of answers exactly like one that does not
exist (TenantNotFound, an Http404), so no response tells other tenants apart from nothing.
"""

from __future__ import annotations

from django.http import Http404

from circuits.tenancy.models.access import ApiKey
from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.tenancy.permissions import remember_role


class TenantNotFound(Http404):
    """No tenant by that name among the caller's (it may exist; that is not said)."""


def member_tenant(user, slug: str) -> Tenant:
    """The tenant `slug` names, if `user` is a member of it (its role is remembered for this request)."""
    if user is None or not getattr(user, "is_authenticated", False) or not isinstance(slug, str) or not slug:
        raise TenantNotFound("No such tenant.")
    membership = Membership.objects.filter(user=user, tenant__slug=slug).select_related("tenant").first()
    if membership is None:
        raise TenantNotFound("No such tenant.")
    remember_role(user, membership.tenant, membership.role)
    return membership.tenant


def addressed_tenant(slug: str) -> Tenant:
    """The tenant an address names for a caller without an account (the demo's Slack-like inbox).

    The address is the whole of the caller's claim, like a webhook's token URL; an unknown one
    answers 404 like any tenant the caller cannot reach.
    """
    tenant = Tenant.objects.filter(slug=slug).first() if isinstance(slug, str) and slug else None
    if tenant is None:
        raise TenantNotFound("No such tenant.")
    return tenant


def key_tenant(key: ApiKey) -> Tenant:
    """An API key acts in its own tenant only (its capped role is remembered by the authentication)."""
    return key.tenant


def only_tenant(user) -> Tenant | None:
    """The caller's tenant when they belong to exactly one, else None (the caller must name one)."""
    found = list(Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__slug")[:2])
    if len(found) != 1:
        return None
    remember_role(user, found[0].tenant, found[0].role)
    return found[0].tenant


def member_slugs(user, limit: int = 10) -> list[str]:
    return list(Membership.objects.filter(user=user).order_by("tenant__slug").values_list("tenant__slug", flat=True)[:limit])
