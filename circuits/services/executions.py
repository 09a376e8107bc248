"""Starting, cancelling, re-running and retrying executions."""

from __future__ import annotations

from django.core.cache import cache
from django.core.exceptions import ValidationError

from circuits.engine.runner import cancel_key
from circuits.engine.start import NotRunnable, create_execution, enqueue, run_now
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
        wait: bool = False,
        trigger_type: str = "manual",
        budget_seconds: float | None = None,
    ):
        super().__init__(tenant, actor)
        self.circuit = circuit
        self.payload = payload if payload is not None else {}
        self.test = test
        self.wait = wait
        self.trigger_type = trigger_type
        self.budget_seconds = budget_seconds  # bounds a run the caller waits for

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
        if not self.wait:
            enqueue(execution)
        return execution

    def execute(self) -> Execution:
        execution = super().execute()
        # A caller waiting for the result runs it here, after the row is committed.
        return run_now(execution, budget_seconds=self.budget_seconds) if self.wait else execution


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
        # The running worker sees the flag between steps; the row is cancelled right away (and
        # its live event goes out when this service's transaction commits).
        cache.set(cancel_key(self.execution), True, timeout=24 * 3600)
        error = {"message": f"cancelled by {self.actor.get_username() if self.actor else 'the system'}", "type": "cancelled"}
        Execution.objects.cancel(self.execution, error=error)
        self.execution.refresh_from_db()
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
