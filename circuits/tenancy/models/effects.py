from __future__ import annotations

from django.db import models

from circuits.tenancy.models.scoping import TenantOwned


class AppliedWrite(TenantOwned):
    """A write made under an idempotency key: the second apply of the same key returns this one's result.

    The engine gives every side-effecting step a key (execution, node, scope, attempt) that
    stays the same when a step lost with its worker runs again; record writes store the key
    here in the transaction of the write itself, so a repeat finds it and changes nothing.
    """

    key = models.CharField(max_length=64)
    operation = models.CharField(max_length=16)
    record_key = models.PositiveBigIntegerField(null=True, blank=True)  # the record written (no FK: it may be deleted)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="appliedwrite_unique_key")]

    def __str__(self) -> str:
        return f"{self.operation} under {self.key}"
