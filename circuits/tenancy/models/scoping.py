"""Tenant scoping that fails closed.

Every customer-owned model uses `TenantQuerySet`; views and services start from
`Model.objects.for_tenant(tenant)` or `.restrict(user, perm, tenant)`, never from
`.all()`, so forgetting the tenant filter is not an option that exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

from circuits.tenancy.permissions import restrict_queryset

if TYPE_CHECKING:
    from circuits.tenancy.models.tenants import Tenant


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> TenantQuerySet:
        if tenant is None or tenant.pk is None:
            return self.none()
        return self.filter(tenant=tenant)

    def restrict(self, user, perm: str, tenant: Tenant) -> TenantQuerySet:
        """Objects of `tenant` on which `user` holds `perm`, through the role or a guardian grant."""
        return restrict_queryset(self.for_tenant(tenant), user, perm, tenant)


class TenantOwned(models.Model):
    tenant = models.ForeignKey("circuits.Tenant", on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
