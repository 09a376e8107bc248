"""Starting, cancelling, re-running and retrying executions."""

from __future__ import annotations

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from circuits.engine.live import publish
from circuits.engine.runner import cancel_key
from circuits.engine.start import NotRunnable, create_execution, enqueue
from circuits.engine.waiting import wait_for_outcome
from circuits.models import FINISHED, Circuit, Execution, ExecutionStatus, StepRun, StepStatus, VersionStatus
from circuits.roles import Perm
from circuits.services.base import Service


class StartExecution(Service):
    """Run a circuit's published version (or, for a test run, its draft) with a payload."""

    perm = Perm.RUN
    denied_message = "You cannot run this circuit."

    def __init__(
        self,
        tenant,
        actor,
        circuit: Circuit,
        payload,
        *,
        test: bool = False,
        wait_seconds: float | None = None,
        trigger_type: str = "manual",
    ):
        super().__init__(tenant, actor)
        self.circuit = circuit
        self.payload = payload if payload is not None else {}
        self.test = test
        # How long the caller waits for the outcome. It bounds the wait, never the run: the
        # run goes on in a worker under the tenant's governor limits (circuits/engine/waiting.py).
        self.wait_seconds = wait_seconds
        self.trigger_type = trigger_type

    def permission_object(self):
        return self.circuit

    def validate(self) -> None:
        if not isinstance(self.payload, dict):
            raise ValidationError({"data": "The payload must be a JSON object."})
        self.version = None
        if self.test:
            from circuits.services.versions import GraphInvalid, current_version, validate_version

            self.version = current_version(self.circuit)
            if self.version is None:
                raise ValidationError({"circuit": "The circuit has no version to test yet."})
            errors = validate_version(self.version)
            if errors:
                raise GraphInvalid(errors)
        elif not self.circuit.enabled:
            raise ValidationError({"circuit": f"Circuit {self.circuit.slug!r} is disabled."})
        elif not self.circuit.versions.filter(status=VersionStatus.PUBLISHED).exists():
            raise ValidationError({"circuit": f"Circuit {self.circuit.slug!r} has no published version."})

    def perform(self) -> Execution:
        try:
            execution = create_execution(
                self.circuit, self.payload, version=self.version, trigger_type=self.trigger_type, started_by=self.actor, is_test=self.test
            )
        except NotRunnable as exc:
            raise ValidationError({"circuit": str(exc)}) from None
        enqueue(execution)
        return execution

    def execute(self) -> Execution:
        execution = super().execute()
        # A caller waiting for the result watches it once the row is committed and enqueued.
        return execution if self.wait_seconds is None else wait_for_outcome(execution.pk, self.wait_seconds)


class _ExecutionService(Service):
    perm = Perm.RUN
    denied_message = "Your role cannot operate executions."

    def __init__(self, tenant, actor, execution: Execution):
        super().__init__(tenant, actor)
        self.execution = execution

    def permission_object(self):
        return self.execution.circuit

    def check(self) -> None:
        if self.execution.tenant_id != self.tenant.pk:
            raise ValidationError("That execution belongs to another tenant.")
        super().check()


class CancelExecution(_ExecutionService):
    def validate(self) -> None:
        if self.execution.status in FINISHED:
            raise ValidationError({"status": f"The execution already {self.execution.status}; it cannot be cancelled."})

    def perform(self) -> Execution:
        now = timezone.now()
        # The running worker sees the flag between steps; the row is cancelled right away.
        cache.set(cancel_key(self.execution), True, timeout=24 * 3600)
        Execution.objects.filter(pk=self.execution.pk, status__in=[ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.WAITING]).update(
            status=ExecutionStatus.CANCELLED,
            finished_at=now,
            error={"message": f"cancelled by {self.actor.get_username() if self.actor else 'the system'}", "type": "cancelled"},
            lease_until=None,
            wait_until=None,
        )
        self.execution.refresh_from_db()
        publish(
            self.tenant.pk,
            self.execution.pk,
            {"kind": "execution.finished", "execution": self.execution.pk, "status": self.execution.status, "circuit": self.execution.circuit.slug},
        )
        return self.execution


class RerunExecution(_ExecutionService):
    """Run the same version again with the same input, from the start."""

    def validate(self) -> None:
        if self.execution.status not in FINISHED:
            raise ValidationError({"status": "Only a finished execution can be re-run."})

    def perform(self) -> Execution:
        e = self.execution
        rerun = create_execution(e.circuit, e.input, version=e.version, trigger_type=e.trigger_type, started_by=self.actor, is_test=e.is_test, rerun_of=e)
        rerun.trigger = e.trigger
        rerun.save(update_fields=["trigger"])
        enqueue(rerun)
        return rerun


class RetryFromFailedStep(_ExecutionService):
    """A new execution that keeps every finished step of the failed one and runs the rest."""

    def validate(self) -> None:
        if self.execution.status not in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED):
            raise ValidationError({"status": "Only a failed or cancelled execution can be retried from its failed step."})

    def perform(self) -> Execution:
        e = self.execution
        retry = create_execution(e.circuit, e.input, version=e.version, trigger_type=e.trigger_type, started_by=self.actor, is_test=e.is_test, rerun_of=e)
        retry.vars = e.vars
        retry.save(update_fields=["vars"])
        kept = [s for s in e.steps.order_by("pk") if s.status == StepStatus.SUCCEEDED or (s.status == StepStatus.FAILED and s.port)]
        copy_steps(kept, retry, note=f"kept from execution {e.pk}")
        enqueue(retry)
        return retry


def copy_steps(steps: list[StepRun], execution: Execution, *, note: str) -> None:
    """Give `execution` finished results of another run: the engine reuses them instead of running those steps."""
    StepRun.objects.bulk_create(
        [
            StepRun(
                execution=execution,
                node_key=s.node_key,
                action=s.action,
                scope=s.scope,
                attempt=s.attempt,
                status=s.status,
                port=s.port,
                input=s.input,
                output=s.output,
                error=s.error,
                logs=[*s.logs, {"level": "info", "message": note}],
                started_at=s.started_at,
                finished_at=s.finished_at,
                duration_ms=s.duration_ms,
            )
            for s in steps
        ]
    )
