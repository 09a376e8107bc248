from __future__ import annotations

from django.conf import settings
from django.db import models

from circuits.tenancy.models.scoping import TenantOwned


class ObjectType(TenantOwned):
    """A tenant-defined record type with typed fields (the built-in ones live in code).

    fields: [{"name": "plan", "type": "choice", "required": true, "choices": ["a", "b"]}, …]
    """

    slug = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    fields = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="unique_object_type")]

    def __str__(self) -> str:
        return self.label


class Record(TenantOwned):
    """One business record (a lead, an account, …) with its fields as validated JSON."""

    object_type = models.SlugField(max_length=50)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "object_type", "-created_at"], name="record_type_idx")]

    def __str__(self) -> str:
        return f"{self.object_type} #{self.pk}"


class RecordChange(models.Model):
    """History of a record: who changed which fields, from what to what.

    It outlives the record: a deletion is recorded too, and `record_key` / `object_type`
    still say which record it was once `record` is empty.
    """

    tenant = models.ForeignKey("circuits.Tenant", on_delete=models.CASCADE, related_name="+", null=True)
    record = models.ForeignKey(Record, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes")
    record_key = models.PositiveBigIntegerField(null=True, db_index=True)
    object_type = models.SlugField(max_length=50, blank=True)
    operation = models.CharField(max_length=16)  # created / updated / deleted
    changes = models.JSONField(default=dict)  # {"field": [old, new]}
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    execution = models.ForeignKey("circuits.Execution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.operation} {self.record_id}"
