"""Tenant resolution for every page under /t/<slug>/ and the htmx partial convention."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from circuits.tenancy.models.tenants import Tenant
from circuits.tenancy.permissions import has_perm, role_of
from circuits.tenancy.resolve import member_tenant


def resolve_tenant(request: HttpRequest, slug: str) -> Tenant:
    """The tenant named in the URL, if the user is a member; 404 otherwise (circuits/tenancy/resolve.py)."""
    tenant = member_tenant(request.user, slug)
    request.tenant = tenant
    request.role = role_of(request.user, tenant)
    if request.session.get("tenant") != tenant.slug:  # remembered for "/" — written only on a switch
        request.session["tenant"] = tenant.slug
    return tenant


class TenantView(LoginRequiredMixin, View):
    """Base for tenant pages: sets `self.tenant`, then checks `required_perm`."""

    required_perm: str = "view"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.tenant = resolve_tenant(request, kwargs.pop("tenant_slug"))
        if self.required_perm and not has_perm(request.user, self.tenant, self.required_perm):
            raise PermissionDenied(f"Your role ({request.role}) does not allow you to {self.required_perm.replace('_', ' ')} here.")
        return super().dispatch(request, *args, **kwargs)

    def require(self, perm: str, obj=None) -> None:
        if not has_perm(self.request.user, self.tenant, perm, obj):
            raise PermissionDenied(f"Your role ({self.request.role}) does not allow you to {perm.replace('_', ' ')} this.")


def render_page(request: HttpRequest, template: str, context: dict, *, partial: str | None = None, status: int = 200) -> HttpResponse:
    """One view, two shapes: the partial for an htmx request, the full page otherwise."""
    htmx = getattr(request, "htmx", None)
    if partial and htmx and not htmx.boosted:
        return render(request, partial, context, status=status)
    return render(request, template, context, status=status)
