from __future__ import annotations

from django.conf import settings
from django.db import models

from circuits.models.circuit import Circuit
from circuits.models.scoping import TenantOwned


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class OnError(models.TextChoices):
    FAIL = "fail", "Fail the execution"
    CONTINUE = "continue", "Continue with the next step"
    ERROR_PORT = "error_port", "Follow the error port"


class CircuitVersion(TenantOwned):
    """One version of a circuit's graph. Published versions never change again."""

    circuit = models.ForeignKey(Circuit, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Bumped on every draft save: the builder sends it back so concurrent edits are detected.
    revision = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["circuit", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["circuit", "number"], name="unique_version_number"),
            models.UniqueConstraint(fields=["circuit"], condition=models.Q(status="published"), name="one_published_version_per_circuit"),
            models.UniqueConstraint(fields=["circuit"], condition=models.Q(status="draft"), name="one_draft_per_circuit"),
        ]

    def __str__(self) -> str:
        return f"{self.circuit} v{self.number} ({self.status})"

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT


class Node(models.Model):
    version = models.ForeignKey(CircuitVersion, on_delete=models.CASCADE, related_name="nodes")
    key = models.SlugField(max_length=64)
    action = models.CharField(max_length=100)
    label = models.CharField(max_length=200, blank=True)
    config = models.JSONField(default=dict, blank=True)
    x = models.FloatField(default=0)
    y = models.FloatField(default=0)
    # {"max_attempts": 3, "backoff_seconds": 1.0, "max_backoff_seconds": 60}
    retry = models.JSONField(default=dict, blank=True)
    timeout_seconds = models.FloatField(null=True, blank=True)
    on_error = models.CharField(max_length=16, choices=OnError.choices, default=OnError.FAIL)

    class Meta:
        ordering = ["version", "pk"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="unique_node_key_per_version")]

    def __str__(self) -> str:
        return f"{self.key} ({self.action})"


class Edge(models.Model):
    """source empty = the circuit's trigger: where execution starts."""

    version = models.ForeignKey(CircuitVersion, on_delete=models.CASCADE, related_name="edges")
    source = models.ForeignKey(Node, null=True, blank=True, on_delete=models.CASCADE, related_name="out_edges")
    source_port = models.CharField(max_length=64, default="next")
    target = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="in_edges")

    class Meta:
        ordering = ["version", "pk"]
        constraints = [models.UniqueConstraint(fields=["source", "source_port", "target"], name="unique_edge")]

    def __str__(self) -> str:
        return f"{self.source.key if self.source_id else 'trigger'}.{self.source_port} → {self.target.key}"
