from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, models, transaction
from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Now
from django.utils import timezone

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.trigger import Event, Trigger
from circuits.automation.models.version import CircuitVersion
from circuits.core import metrics
from circuits.core.live import publish_on_commit
from circuits.tenancy.models.scoping import TenantOwned, TenantQuerySet
from circuits.tenancy.models.tenants import Tenant


class ExecutionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)
ACTIVE = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)


def lease_seconds() -> int:
    return int(getattr(settings, "ENGINE_LEASE_SECONDS", 60))


def lease_expiry() -> ExpressionWrapper:
    """`now() + the lease`, computed by the database (the clocks of workers and the beat never disagree)."""
    return ExpressionWrapper(Now() + timedelta(seconds=lease_seconds()), output_field=DateTimeField())


def claimable(now: datetime) -> Q:
    """Executions a runner may take: queued, parked and due (`now`), or running on a lease that lapsed (database time)."""
    return (
        Q(status=ExecutionStatus.QUEUED)
        | Q(status=ExecutionStatus.RUNNING, lease_until__isnull=True)
        | Q(status=ExecutionStatus.RUNNING, lease_until__lt=Now())
        | Q(status=ExecutionStatus.WAITING, wait_until__isnull=True)
        | Q(status=ExecutionStatus.WAITING, wait_until__lte=now)
    )


def lifecycle_event(kind: str, execution: Execution) -> dict[str, Any]:
    """The live event of an execution-level change (execution.started / .waiting / .finished)."""
    e = execution
    return {
        "kind": kind,
        "execution": e.pk,
        "circuit": e.circuit.slug,
        "status": e.status,
        "duration_ms": e.duration_ms,
        "error": e.error,
        "output": e.output if kind == "execution.finished" else None,
    }


def announce(execution: Execution, kind: str) -> None:
    """Publish `kind` for `execution` once the surrounding transaction commits (at once outside one).

    A change that rolls back was never seen by anyone: its event must not be either.
    """
    publish_on_commit(execution.tenant_id, execution.pk, lifecycle_event(kind, execution))


def _close_waits(execution_id: int, now: datetime) -> None:
    """A cancelled execution's wait steps are over: nothing will ever complete them."""
    StepRun.objects.filter(execution_id=execution_id, status=StepStatus.WAITING).update(
        status=StepStatus.CANCELLED, finished_at=now, resume_at=None, error={"message": "the execution was cancelled", "type": "cancelled"}
    )


_converters: dict[tuple[type, str], list] = {}


def _instance(model: type[models.Model], conn, values: list) -> models.Model:
    """A model instance from the first columns of `values` (consumed), converted as the ORM would."""
    fields = model._meta.concrete_fields
    key = (model, conn.alias)
    if key not in _converters:
        cols = [f.get_col(model._meta.db_table) for f in fields]
        _converters[key] = [(col, conn.ops.get_db_converters(col) + col.get_db_converters(conn)) for col in cols]
    converted = []
    for col, converters in _converters[key]:
        value = values.pop(0)
        for convert in converters:
            value = convert(value, col, conn)
        converted.append(value)
    return model.from_db(conn.alias, [f.attname for f in fields], converted)


class ExecutionQuerySet(TenantQuerySet):
    """Every change of an execution's state, in one place (docs/architecture.md, "The engine").

    Each transition is one UPDATE guarded in its WHERE clause — the state it starts from and,
    for a runner's transitions, the lease token the runner holds — and returns whether it
    took effect, so two racing parties (a runner finishing and a user cancelling, two workers
    claiming) never both win. A transition that took effect updates the given instance and
    publishes its live event after the transaction commits.
    """

    def claim(self, execution_id: int) -> Execution | None:
        """Take a claimable execution for a new runner: its fresh token, a lease, status running.

        `skip_locked` lets many workers race for the same id without blocking, and skips a row
        whose owner is writing right now (its write transaction holds the row lock).
        """
        if connections[self.db].vendor == "postgresql":
            return self._claim_in_one_statement(execution_id)
        token, now = uuid.uuid4(), timezone.now()
        with transaction.atomic():
            execution = self.select_for_update(skip_locked=True).filter(claimable(now), pk=execution_id).first()
            if execution is None:
                return None
            taken = self.filter(claimable(now), pk=execution.pk).update(
                status=ExecutionStatus.RUNNING,
                lease_owner=token,
                lease_until=lease_expiry(),
                wait_until=None,
                started_at=execution.started_at or now,
            )
        if not taken:
            return None
        claimed = self.select_related("tenant", "circuit", "version").get(pk=execution.pk)
        metrics.execution_started(claimed, execution.status)  # running before: the lease had lapsed, a takeover
        return claimed

    def _claim_in_one_statement(self, execution_id: int) -> Execution | None:
        """`claim` on PostgreSQL: lock (skip_locked), take and load in ONE statement.

        A data-modifying CTE locks the claimable row, updates it and RETURNs it joined with its
        tenant, circuit and version, plus the status it was claimed from and whether it has step
        rows — so a fresh execution's runner needs no second read and no read of previous steps.
        """
        token, now = uuid.uuid4(), timezone.now()
        conn = connections[self.db]
        qn = conn.ops.quote_name
        table = qn(Execution._meta.db_table)
        candidate_sql, candidate_params = self.filter(claimable(now), pk=execution_id).order_by().values("id", "status").query.sql_with_params()
        related = [(Tenant, "t", "tenant_id"), (Circuit, "c", "circuit_id"), (CircuitVersion, "v", "version_id")]
        columns = [f"taken.{qn(f.column)}" for f in Execution._meta.concrete_fields]
        for model, alias, _fk in related:
            columns += [f"{alias}.{qn(f.column)}" for f in model._meta.concrete_fields]
        joins = " ".join(f"JOIN {qn(m._meta.db_table)} {a} ON {a}.{qn(m._meta.pk.column)} = taken.{qn(fk)}" for m, a, fk in related)
        # Identifiers from the models' meta and the ORM's own compiled SQL only; every value is a parameter.
        sql = (
            f"WITH old AS ({candidate_sql} FOR UPDATE SKIP LOCKED), "  # noqa: S608
            f"taken AS (UPDATE {table} AS e SET {qn('status')} = %s, {qn('lease_owner')} = %s, "
            f"{qn('lease_until')} = STATEMENT_TIMESTAMP() + %s * INTERVAL '1 second', {qn('wait_until')} = NULL, "
            f"{qn('started_at')} = COALESCE(e.{qn('started_at')}, %s) "
            f"FROM old WHERE e.{qn('id')} = old.{qn('id')} RETURNING e.*, old.{qn('status')} AS claimed_from) "
            f"SELECT {', '.join(columns)}, taken.claimed_from, "
            f"EXISTS (SELECT 1 FROM {qn(StepRun._meta.db_table)} s WHERE s.{qn('execution_id')} = taken.{qn('id')}) "
            f"FROM taken {joins}"
        )
        with conn.cursor() as cursor:
            cursor.execute(sql, [*candidate_params, ExecutionStatus.RUNNING, token, lease_seconds(), now])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        claimed = _instance(Execution, conn, values)
        for model, _alias, fk in related:
            setattr(claimed, fk.removesuffix("_id"), _instance(model, conn, values))
        previous_status, has_steps = values
        claimed.claimed_without_steps = not has_steps
        metrics.execution_started(claimed, previous_status)  # running before: the lease had lapsed, a takeover
        return claimed

    def renew(self, execution_id: int, token: uuid.UUID | None) -> bool:
        """Extend the lease of a running execution, only for the runner holding `token`."""
        if token is None:
            return False
        return bool(self.filter(pk=execution_id, lease_owner=token, status=ExecutionStatus.RUNNING).update(lease_until=lease_expiry()))

    def park(self, execution: Execution, token: uuid.UUID | None, *, until: datetime, vars: dict, step_count: int) -> bool:
        """running → waiting until `until`; the lease is given up (the sweep wakes it)."""
        parked = self._owned_by(execution, token).update(
            status=ExecutionStatus.WAITING, wait_until=until, vars=vars, step_count=step_count, lease_until=None, lease_owner=None
        )
        if parked:
            execution.status, execution.wait_until, execution.vars, execution.step_count = ExecutionStatus.WAITING, until, vars, step_count
            execution.lease_until = execution.lease_owner = None
            announce(execution, "execution.waiting")
        return bool(parked)

    def finish(
        self,
        execution: Execution,
        token: uuid.UUID | None,
        *,
        status: str,
        output: Any = None,
        error: dict | None = None,
        vars: dict | None = None,
        step_count: int | None = None,
    ) -> bool:
        """running → succeeded / failed / cancelled, by the runner holding `token`.

        A concurrent cancel has already finished the row: it keeps its status (and its event).
        """
        if status not in FINISHED:
            raise ValueError(f"{status!r} is not a finished status")
        now = timezone.now()
        fields: dict[str, Any] = {
            "status": status,
            "output": output,
            "error": error,
            "finished_at": now,
            "duration_ms": int((now - execution.started_at).total_seconds() * 1000) if execution.started_at else None,
            "lease_until": None,
            "lease_owner": None,
            "wait_until": None,
        }
        if vars is not None:
            fields["vars"] = vars
        if step_count is not None:
            fields["step_count"] = step_count
        # No savepoint inside the runner's closing transaction: one statement fewer each way.
        with transaction.atomic(savepoint=False):
            finished = self._owned_by(execution, token).update(**fields)
            if finished and status == ExecutionStatus.CANCELLED:
                _close_waits(execution.pk, now)  # the runner saw the cancel before the service wrote it
        if finished:
            for name, value in fields.items():
                setattr(execution, name, value)
            announce(execution, "execution.finished")
            # Counted once the outcome commits (a before-save circuit's run may still roll back).
            transaction.on_commit(lambda: metrics.execution_finished(execution, status))
        return bool(finished)

    def release(self, execution: Execution, token: uuid.UUID | None, *, vars: dict, step_count: int) -> bool:
        """running → queued, the lease given up, by the runner holding `token`: a worker takes it on.

        An inline run (circuits/automation/engine/inline.py) whose caller's wait ran out hands
        the rest of the run to the queue this way, at a step boundary.
        """
        released = self._owned_by(execution, token).update(status=ExecutionStatus.QUEUED, vars=vars, step_count=step_count, lease_until=None, lease_owner=None)
        if released:
            execution.status, execution.vars, execution.step_count = ExecutionStatus.QUEUED, vars, step_count
            execution.lease_until = execution.lease_owner = None
        return bool(released)

    def cancel(self, execution: Execution, *, error: dict) -> bool:
        """queued / running / waiting → cancelled, whoever holds the lease.

        The runner keeps its token (it may still record the outcome of the step it is in, see
        circuits/automation/engine/lease.py) but starts nothing new. A parked wait step is closed in the
        same transaction: nothing will ever complete it.
        """
        now = timezone.now()
        with transaction.atomic():
            cancelled = self.filter(pk=execution.pk, status__in=ACTIVE).update(
                status=ExecutionStatus.CANCELLED, finished_at=now, error=error, lease_until=None, wait_until=None
            )
            if cancelled:
                _close_waits(execution.pk, now)
                execution.status, execution.finished_at, execution.error = ExecutionStatus.CANCELLED, now, error
                execution.lease_until = execution.wait_until = None
                announce(execution, "execution.finished")
                transaction.on_commit(lambda: metrics.execution_finished(execution, ExecutionStatus.CANCELLED))
        return bool(cancelled)

    def _owned_by(self, execution: Execution, token: uuid.UUID | None) -> ExecutionQuerySet:
        # Not finished (only running) and still ours: a lost lease or a cancel matches no row.
        if token is None:
            return self.none()
        return self.filter(pk=execution.pk, status=ExecutionStatus.RUNNING, lease_owner=token)


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
    # A test run of ONE node (the builder's "run this step alone", services/draft_runs.py): the
    # engine runs just this node, with the upstream results copied in as finished steps.
    only_node = models.CharField(max_length=64, null=True, blank=True)
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

    # State changes go through these (claim, renew, park, finish, cancel); never write `status` directly.
    objects = ExecutionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="execution_recent_idx"),
            models.Index(fields=["tenant", "circuit", "status"], name="execution_circuit_idx"),
            models.Index(fields=["circuit", "-created_at"], name="execution_circuit_recent_idx"),  # retention's count per circuit
            # The few executions not finished among millions: the sweep, /metrics' gauges and
            # retention's "still needed by an unfinished one" read them through this, never a scan.
            models.Index(
                fields=["status"],
                name="execution_unfinished_idx",
                condition=models.Q(status__in=["queued", "running", "waiting"]),
            ),
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
    CANCELLED = "cancelled", "Cancelled"  # a wait closed by the execution's cancel


MAX_SCOPE_LENGTH = 1024


class StepRun(models.Model):
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="steps")
    node_key = models.CharField(max_length=64)
    action = models.CharField(max_length=100)
    # Where in loops/parallel branches this run happened, e.g. "loop1[2]/par.b"; "" on the main path.
    # Room for a dozen levels of 64-character keys; the engine fails a run that nests deeper
    # with a governor limit (MAX_SCOPE_LENGTH), never a database error.
    scope = models.CharField(max_length=MAX_SCOPE_LENGTH, blank=True, default="")
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
