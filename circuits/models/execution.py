from __future__ import annotations

from django.conf import settings
from django.db import models

from circuits.models.circuit import Circuit
from circuits.models.scoping import TenantOwned
from circuits.models.trigger import Event, Trigger
from circuits.models.version import CircuitVersion


class ExecutionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


class Execution(TenantOwned):
    circuit = models.ForeignKey(Circuit, on_delete=models.CASCADE, related_name="executions")
    version = models.ForeignKey(CircuitVersion, on_delete=models.PROTECT, related_name="executions")
    trigger = models.ForeignKey(Trigger, null=True, blank=True, on_delete=models.SET_NULL, related_name="executions")
    trigger_type = models.CharField(max_length=32, blank=True, db_index=True)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="executions")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")
    # Lineage across circuits: the execution whose side effect (a record write, an event, its
    # completion) started this one, and how many executions long that chain is (1 = started by a
    # person, an API call, a schedule or a webhook). Beyond ENGINE_MAX_CHAIN_DEPTH a start is refused.
    caused_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="caused")
    chain_depth = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.QUEUED, db_index=True)
    is_test = models.BooleanField(default=False)
    input = models.JSONField(default=dict, blank=True)
    vars = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)  # {"message", "node", "type"}
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    wait_until = models.DateTimeField(null=True, blank=True, db_index=True)
    # Lease: the engine holding `lease_owner` (a token drawn at claim) owns a running execution
    # until `lease_until` (database time), renews it while it runs, and writes only while the
    # row still names its token; a dead worker's lease lapses and the sweep hands it on.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.UUIDField(null=True, blank=True)
    step_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="execution_recent_idx"),
            models.Index(fields=["tenant", "circuit", "status"], name="execution_circuit_idx"),
        ]

    def __str__(self) -> str:
        return f"Execution {self.pk} of {self.circuit} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    WAITING = "waiting", "Waiting"


class StepRun(models.Model):
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="steps")
    node_key = models.CharField(max_length=64)
    action = models.CharField(max_length=100)
    # Where in loops/parallel branches this run happened, e.g. "loop1[2]/par.b"; "" on the main path.
    scope = models.CharField(max_length=255, blank=True, default="")
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.RUNNING)
    port = models.CharField(max_length=64, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)  # {"message", "type", "traceback"}
    logs = models.JSONField(default=list, blank=True)
    resume_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["execution", "started_at", "pk"]
        indexes = [models.Index(fields=["execution", "node_key", "scope"], name="steprun_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.node_key}#{self.attempt} ({self.status})"


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
