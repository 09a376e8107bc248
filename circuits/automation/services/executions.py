"""Starting, cancelling, re-running and retrying executions."""

from __future__ import annotations

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction

from circuits.automation.dispatch import NotRunnable, create_execution, enqueue, published_version
from circuits.automation.engine.reuse import steps_to_keep
from circuits.automation.engine.runner import cancel_key
from circuits.automation.engine.waiting import wait_for_outcome
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import FINISHED, Execution, ExecutionStatus, StepRun
from circuits.automation.models.version import VersionStatus
from circuits.automation.services.versions import testable_version
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service


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
        # run goes on in a worker under the tenant's governor limits (circuits/automation/engine/waiting.py).
        self.wait_seconds = wait_seconds
        self.trigger_type = trigger_type

    def permission_object(self):
        return self.circuit

    def validate(self) -> None:
        if not isinstance(self.payload, dict):
            raise ValidationError({"data": "The payload must be a JSON object."})
        self.version = None
        if self.test:
            self.version = testable_version(self.circuit)
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
        # A caller waiting for the outcome (or a test run watched in the builder) goes first.
        enqueue(execution, "interactive" if self.test or self.wait_seconds is not None else None)
        return execution

    def execute(self) -> Execution:
        execution = super().execute()
        # A caller waiting for the result watches it once the row is committed and enqueued.
        return execution if self.wait_seconds is None else wait_for_outcome(execution.pk, self.wait_seconds)


class _ExecutionService(Service):
    audit_fields = ("id", "circuit", "version", "status", "rerun_of", "trigger_type", "is_test", "started_by")

    def audit_target(self):
        return self.execution

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

    def refuse_disabled(self) -> None:
        # Disabling is the circuit's off switch: re-running an old execution must not start it anyway (test runs may, as with a start).
        if not self.execution.is_test and not self.execution.circuit.enabled:
            raise ValidationError({"circuit": f"Circuit {self.execution.circuit.slug!r} is disabled."})


class CancelExecution(_ExecutionService):
    audit_action = "execution.cancelled"

    def validate(self) -> None:
        if self.execution.status in FINISHED:
            raise ValidationError({"status": f"The execution already {self.execution.status}; it cannot be cancelled."})

    def perform(self) -> Execution:
        # The running worker sees the flag between steps; the row is cancelled right away (and
        # its live event goes out when this service's transaction commits).
        error = {"message": f"cancelled by {self.actor.get_username() if self.actor else 'the system'}", "type": "cancelled"}
        if not Execution.objects.cancel(self.execution, error=error):
            # It finished after validate() read it: say so rather than answer as if it were cancelled.
            self.execution.refresh_from_db()
            raise ValidationError({"status": f"The execution already {self.execution.status}; it cannot be cancelled."})
        key = cancel_key(self.execution)
        transaction.on_commit(lambda: cache.set(key, True, timeout=24 * 3600))
        self.execution.refresh_from_db()
        return self.execution


class RerunExecution(_ExecutionService):
    """Run the same version again with the same input, from the start."""

    audit_action = "execution.rerun"

    def validate(self) -> None:
        if self.execution.status not in FINISHED:
            raise ValidationError({"status": "Only a finished execution can be re-run."})
        self.refuse_disabled()

    def perform(self) -> Execution:
        e = self.execution
        rerun = create_execution(e.circuit, e.input, version=e.version, trigger_type=e.trigger_type, started_by=self.actor, is_test=e.is_test, rerun_of=e)
        rerun.trigger = e.trigger
        rerun.save(update_fields=["trigger"])
        enqueue(rerun)
        return rerun


class RetryVersion:
    """Which version a retry runs."""

    ORIGINAL = "original"  # the version the execution ran (the default)
    PUBLISHED = "published"  # the circuit's published version now, to pick up a fix
    CHOICES = ((ORIGINAL, "The version the execution ran"), (PUBLISHED, "The circuit's published version"))


class RetryFromFailedStep(_ExecutionService):
    """A new execution that keeps the finished steps of the failed one and runs the rest.

    On the version it ran every finished step is kept; on the published version only the
    steps that nothing changed for (circuits/automation/engine/reuse.py).
    """

    audit_action = "execution.retried"

    def __init__(self, tenant, actor, execution: Execution, *, version: str = RetryVersion.ORIGINAL):
        super().__init__(tenant, actor, execution)
        self.choice = version

    def validate(self) -> None:
        if self.execution.status not in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED):
            raise ValidationError({"status": "Only a failed or cancelled execution can be retried from its failed step."})
        self.refuse_disabled()
        if self.choice == RetryVersion.ORIGINAL:
            self.version = self.execution.version
        elif self.choice == RetryVersion.PUBLISHED:
            self.version = published_version(self.execution.circuit)
            if self.version is None:
                raise ValidationError({"version": f"Circuit {self.execution.circuit.slug!r} has no published version to retry on."})
        else:
            raise ValidationError({"version": f"Choose {RetryVersion.ORIGINAL!r} (the version it ran) or {RetryVersion.PUBLISHED!r}, not {self.choice!r}."})

    def perform(self) -> Execution:
        e = self.execution
        retry = create_execution(e.circuit, e.input, version=self.version, trigger_type=e.trigger_type, started_by=self.actor, is_test=e.is_test, rerun_of=e)
        # Kept steps replay their effect on vars when reused; on another version the failed run's
        # final vars could hold names that version no longer sets, so it starts from none.
        retry.vars = e.vars if self.version.pk == e.version_id else {}
        retry.save(update_fields=["vars"])
        copy_steps(steps_to_keep(e, self.version), retry, source=e)
        enqueue(retry)
        return retry


COPIED = "copied_from"  # on a copied step's log entry: the execution in which the step really ran


def _copy_note(entry) -> bool:
    # Entries written before they carried COPIED are recognised by their text.
    if not isinstance(entry, dict):
        return False
    message = str(entry.get("message", ""))
    return COPIED in entry or message.startswith(("kept from execution ", "pinned from execution "))


def _origin(entry: dict) -> int | None:
    if COPIED in entry:
        return entry[COPIED]
    tail = str(entry.get("message", "")).rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else None


def copy_steps(steps: list[StepRun], execution: Execution, *, source: Execution, verb: str = "kept") -> None:
    """Give `execution` finished results of `source`: the engine reuses them instead of running those steps.

    Each copy carries one "<verb> from execution N" log entry, N being where the step really
    ran: copying a copy (a retry of a retry) replaces the entry instead of adding another.
    """
    rows = []
    for s in steps:
        origin = next((o for o in (_origin(entry) for entry in s.logs if _copy_note(entry)) if o is not None), source.pk)
        logs = [entry for entry in s.logs if not _copy_note(entry)]
        logs.append({"level": "info", "message": f"{verb} from execution {origin}", COPIED: origin})
        rows.append(
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
                logs=logs,
                started_at=s.started_at,
                finished_at=s.finished_at,
                duration_ms=s.duration_ms,
            )
        )
    StepRun.objects.bulk_create(rows)
