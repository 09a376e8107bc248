"""The audit trail: who changed what in a tenant, with the state before and after.

Rows are written by the services (circuits/tenancy/audit.py, called from Service.execute in the
mutation's own transaction, so a change and its entry commit or roll back together) and are
append-only: the model and its queryset refuse updates and deletes. Only a tenant's own deletion
removes its trail (the cascade, at the database).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from circuits.tenancy.models.scoping import TenantOwned, TenantQuerySet


class AppendOnly(Exception):
    """An audit entry cannot be changed or deleted."""


# What deleting a user or an API key does to the entries naming them (on_delete=SET_NULL): the
# only update allowed; the `actor` label keeps who it was.
_FORGET_ACTOR = frozenset({"actor_user", "actor_key"})


class AuditQuerySet(TenantQuerySet):
    def update(self, **kwargs):
        if kwargs and set(kwargs) <= _FORGET_ACTOR and all(value is None for value in kwargs.values()):
            return super().update(**kwargs)
        raise AppendOnly("audit entries are append-only")

    def delete(self):
        raise AppendOnly("audit entries are append-only")


class AuditEntry(TenantOwned):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Who: a signed-in user, or a user acting through an API key (both kept); `actor` is the
    # label at the time, which stays when the user or key is gone.
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_key = models.ForeignKey("circuits.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=64, db_index=True)  # "<object type>.<verb>", e.g. version.published
    object_type = models.CharField(max_length=32, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_tenant_recent")]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnly("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("audit entries are append-only")
