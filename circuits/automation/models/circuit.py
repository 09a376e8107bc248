from __future__ import annotations

from django.conf import settings
from django.db import models

from circuits.tenancy.models.scoping import TenantOwned
from circuits.tenancy.models.tenants import slug_validator


class Circuit(TenantOwned):
    """A named automation: a trigger plus a graph of actions, kept as versions."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tags = models.JSONField(default=list, blank=True)
    # On failure: notify and/or start an error circuit (circuits/automation/failures/policy.py).
    # None = the tenant's default (Tenant.on_failure); {} = nothing, whatever the default says.
    on_failure = models.JSONField(null=True, blank=True, default=None)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="unique_circuit_slug_per_tenant")]
        permissions = [
            ("publish_circuit", "Can publish circuit"),
            ("run_circuit", "Can run circuit"),
        ]

    def __str__(self) -> str:
        return self.name
