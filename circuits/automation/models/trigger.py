from __future__ import annotations

from django.db import models

from circuits.automation.models.circuit import Circuit
from circuits.tenancy.models.scoping import TenantOwned


class Trigger(TenantOwned):
    """What starts a circuit. `key` makes matching an indexed lookup (tenant, type, key)."""

    circuit = models.ForeignKey(Circuit, on_delete=models.CASCADE, related_name="triggers")
    # A registered trigger kind (circuits/automation/triggers/registry.py validates it on every save path);
    # no model choices, so adding a kind is one module and no migration.
    type = models.CharField(max_length=32)
    # event name ("lead.created"), "<object>.before_save", "circuit:<slug>", webhook token, …
    key = models.CharField(max_length=200, blank=True, db_index=True)
    config = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)  # schedules
    last_fired_at = models.DateTimeField(null=True, blank=True)
    webhook_token = models.CharField(max_length=64, unique=True, null=True, blank=True, default=None)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["circuit", "pk"]
        indexes = [models.Index(fields=["tenant", "type", "key"], name="trigger_match_idx")]

    def __str__(self) -> str:
        return f"{self.type} → {self.circuit}"


class ThresholdState(models.Model):
    """Which side of its threshold a record was last seen on, so a crossing fires once."""

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="threshold_states")
    record = models.ForeignKey("circuits.Record", on_delete=models.CASCADE, related_name="+")
    above = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trigger", "record"], name="unique_threshold_state")]

    def __str__(self) -> str:
        return f"{self.trigger_id}/{self.record_id}: {'above' if self.above else 'below'}"


class Event(TenantOwned):
    """A published platform event and the executions it started."""

    name = models.CharField(max_length=200, db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name


class CustomEventType(TenantOwned):
    """A tenant-defined event name, added to the built-in catalogue."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="unique_custom_event")]

    def __str__(self) -> str:
        return self.name
