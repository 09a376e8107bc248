"""Inline runs: a webhook (or API call) that waits for its circuit runs it right here, written once.

The queued path writes an execution four times before its caller hears back: the INSERT, the
claim, the batch of step rows, the finish (plus a re-read). For a caller that waits, an inline
run does this instead:

- The execution is built in memory, already running, with an id drawn from the table's
  sequence and a fresh lease token: nothing to claim, no previous steps to read.
- Its steps run in this process, each kept in memory (`pending`) with its events.
- At the end, the execution row and all its step rows are written in ONE transaction (an
  INSERT and a bulk INSERT, no re-read); its live events are published once that commits.
- At the first step that must be durable before it runs — an action with side effects (HTTP,
  Slack, e-mail, record writes…), a container, a park, a retry that sleeps long — the run
  is *made durable* first: the execution (running, with its lease) and the steps so far are
  written in one transaction, and from there on the run is an ordinary leased run
  (circuits/automation/engine/runner.py): every write guarded by the lease, a side effect that
  finished is never repeated by a resume.
- When the caller's wait runs out (checked at each step boundary) the run is made durable
  and given back to the queue (`ExecutionQuerySet.release`): a worker claims it and resumes
  from the stored steps.

Crash safety: until it is durable, the only trace of a run is a small **journal** entry in
Redis (execution id, tenant, circuit, version, trigger, payload, started), written before the
first step and removed once the row is committed. The engine's lease heartbeat keeps the
entry's expiry a lease ahead. `recover_lost()` (run by the sweep, `resume_due_executions`)
turns every entry whose expiry passed — its process died — into a visible *failed*
execution with the payload (never lost; "retry" re-runs it). Re-running it silently would
also be safe (no side effect happened before the run became durable), but the caller never
got an answer and may well send the delivery again.

Without Redis (no shared journal) or PostgreSQL (no sequence to draw an id from), or with
ENGINE_INLINE_RUNS off, `run_waited` returns None and the caller takes the queued path.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from circuits.automation.dispatch import build_execution, enqueue
from circuits.automation.engine import waiting
from circuits.automation.engine.lease import Lease
from circuits.automation.engine.runner import Engine, HandedOff, _jsonable
from circuits.automation.engine.signals import execution_finished
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun, announce, lease_expiry, lease_seconds
from circuits.automation.models.version import CircuitVersion
from circuits.core import metrics
from circuits.core.live import publish_on_commit

log = logging.getLogger(__name__)

LOST_ERROR_TYPE = "worker_lost"


def enabled() -> bool:
    return bool(getattr(settings, "ENGINE_INLINE_RUNS", True) and settings.REDIS_URL and settings.USES_POSTGRES)


# --- the journal ------------------------------------------------------------------------------


class Journal:
    """In-flight inline runs in Redis: a hash of entries and a sorted set of their expiries."""

    def __init__(self) -> None:
        prefix = settings.CACHES["default"].get("KEY_PREFIX", "circuitos")
        self.entries = f"{prefix}:inline-runs"
        self.expiries = f"{prefix}:inline-runs:expiry"
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import redis

                    self._client = redis.Redis.from_url(settings.REDIS_URL)
        return self._client

    @staticmethod
    def expiry() -> float:
        return time.time() + lease_seconds()

    def record(self, execution_id: int, entry: dict) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.entries, str(execution_id), json.dumps(entry, default=str))
        pipe.zadd(self.expiries, {str(execution_id): self.expiry()})
        pipe.execute()

    def touch(self, execution_id: int) -> bool:
        """Push the entry's expiry a lease ahead (the heartbeat); False once it is gone."""
        self.client.zadd(self.expiries, {str(execution_id): self.expiry()}, xx=True)
        return True

    def remove(self, execution_id: int) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.entries, str(execution_id))
        pipe.zrem(self.expiries, str(execution_id))
        pipe.execute()

    def expired(self, now: float | None = None, limit: int = 200) -> list[int]:
        return [int(m) for m in self.client.zrangebyscore(self.expiries, "-inf", now if now is not None else time.time(), start=0, num=limit)]

    def entry(self, execution_id: int) -> dict | None:
        raw = self.client.hget(self.entries, str(execution_id))
        return json.loads(raw) if raw else None

    def in_flight(self) -> list[int]:
        return [int(m) for m in self.client.zrange(self.expiries, 0, -1)]


journal = Journal()


def reserve_id() -> int:
    """The next execution id, from the table's own sequence (nextval never hands one out twice)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [Execution._meta.db_table])
        return cursor.fetchone()[0]


# --- the engine -------------------------------------------------------------------------------


class _InlineLease(Lease):
    """Before the run is durable the heartbeat keeps the journal entry alive; afterwards the lease."""

    def __init__(self, engine: InlineEngine) -> None:
        super().__init__(engine.execution)
        self.engine = engine

    def _renew(self) -> bool:
        if not self.engine.durable:
            return journal.touch(self.execution_id)
        return super()._renew()


class InlineEngine(Engine):
    """The engine with its writes deferred to one transaction at the end (or to the first durable step)."""

    def __init__(self, execution: Execution, wait_seconds: float) -> None:
        super().__init__(execution)
        self.durable = False
        self.finished = False
        # The caller's thread may make the run durable (its wait ran out) while this one runs a step.
        self.state_lock = threading.RLock()
        self.wait_deadline = time.monotonic() + max(wait_seconds, 0.0)
        self.events: list[dict] = []  # live events of the run so far, published once it commits
        self.lease = _InlineLease(self)

    def run(self) -> Execution:
        try:
            return super().run()
        except HandedOff:
            return self._hand_off()

    # --- what the base engine would write at once -------------------------------------------

    def _load_previous_steps(self) -> None:
        """A new execution has none."""

    def _publish(self, event: dict) -> None:
        with self.state_lock:
            if not self.durable:
                self.events.append(event)
                return
        super()._publish(event)

    def _defer_write(self, step: StepRun, action_class) -> bool:
        # Before the run is durable every finished step waits for the one write (failed ones too).
        return (not self.durable and step.pk is None) or super()._defer_write(step, action_class)

    def _mark_handled(self, step: StepRun, port: str) -> None:
        if step.pk is not None:
            return super()._mark_handled(step, port)
        step.port = port  # still in `pending`: written with its port
        self.done[(step.node_key, step.scope)] = step

    @contextmanager
    def _owned(self, *, closing: bool = False) -> Iterator[None]:
        # Any other write (a side-effecting step or a container about to run, a park, a long retry)
        # needs the run on the durable path first.
        self.make_durable()
        with super()._owned(closing=closing):
            self.flush_pending()  # steps kept in memory before (a failed one too) are written first
            yield

    def _check_cancel(self) -> None:
        # Before the row exists nobody can cancel the run (the cancel service needs the row): no Redis read.
        if self.durable:
            super()._check_cancel()

    def _run_node(self, key: str, scope: str, data: dict) -> tuple[str, Any]:
        if time.monotonic() > self.wait_deadline and (key, scope) not in self.done:
            raise HandedOff(f"the caller's wait ran out before step {key!r}")
        return super()._run_node(key, scope, data)

    # --- the writes ---------------------------------------------------------------------------

    def _insert_execution(self) -> None:
        # raw: the in-memory created_at (the moment the run began, in the journal and the
        # idempotency keys) is kept, not replaced by the insert's time.
        self.execution.save_base(raw=True, force_insert=True)

    def _publish_buffered(self) -> None:
        events, self.events = self.events, []
        tenant_id, execution_id = self.tenant.pk, self.execution.pk
        for event in events:
            publish_on_commit(tenant_id, execution_id, event)

    def make_durable(self) -> None:
        """Write the execution (running, leased) and the steps so far in one transaction: the durable path from here on.

        Also called from the caller's thread when its wait ran out; a run that finished meanwhile stays as it is.
        """
        with self.state_lock:
            if not (self.durable or self.finished):
                self._make_durable()

    def _make_durable(self) -> None:
        e = self.execution
        e.lease_until = lease_expiry()
        with transaction.atomic():
            self._insert_execution()
            self.flush_pending()
            self._publish_buffered()
        e.lease_until = timezone.now() + timedelta(seconds=lease_seconds())  # the row holds the database's time
        self.durable = True
        _forget(e.pk)
        log.info("inline execution %s made durable", e.pk)

    def _finish(self, status: str, data: dict, *, output: Any = None, error: dict | None = None) -> Execution:
        with self.state_lock:
            if not self.durable:
                return self._commit(status, data, output=output, error=error)
        return super()._finish(status, data, output=output, error=error)

    def _commit(self, status: str, data: dict, *, output: Any, error: dict | None) -> Execution:
        e = self.execution
        now = timezone.now()
        e.status, e.output, e.error = status, _jsonable(output), error
        e.finished_at = now
        e.duration_ms = int((now - e.started_at).total_seconds() * 1000)
        e.vars, e.step_count = data.get("vars", {}), self.step_count
        e.lease_owner = e.lease_until = None
        with transaction.atomic():  # the one write of the run
            self._insert_execution()
            self.flush_pending()
            self._publish_buffered()
            announce(e, "execution.finished")
            transaction.on_commit(lambda: metrics.execution_finished(e, status))
        self.finished = True
        _forget(e.pk)
        log.info("execution %s %s", e.pk, e.status, extra={"status": e.status, "duration_ms": e.duration_ms, "steps": self.step_count, "inline": True})
        execution_finished.send(sender=Execution, execution=e)
        return e

    def _hand_off(self) -> Execution:
        """The caller's wait ran out: durable now, then the queue runs the rest."""
        e = self.execution
        self.make_durable()
        with super()._owned(closing=True):
            self.flush_pending()
            released = Execution.objects.release(e, self.lease.token, vars=dict(e.vars or {}), step_count=self.step_count)
            if released:
                enqueue(e)
        log.info("inline execution %s handed to a worker (the caller's wait ran out)", e.pk)
        return e


def _forget(execution_id: int) -> None:
    try:
        journal.remove(execution_id)
    except Exception:  # the sweep finds the row committed and drops the entry then
        log.warning("could not remove the journal entry of inline execution %s", execution_id, exc_info=True)


# --- the entry point ----------------------------------------------------------------------------


def run_waited(circuit, payload: Any, *, version, trigger=None, tenant=None, wait_seconds: float, **kwargs: Any) -> Execution | None:
    """Run the execution here for a caller that waits `wait_seconds`, or None: take the queued path.

    None when inline runs are not available (see the module doc), inside a transaction (the
    caller's writes must commit first), or when API_WAIT_MAX_CALLERS callers of this process
    are already waiting. Raises NotRunnable (ChainTooDeep) like create_execution.
    """
    if not enabled() or connection.in_atomic_block:
        return None
    with waiting._place() as granted:
        if not granted:
            return None
        execution = build_execution(circuit, payload, version=version, trigger=trigger, **kwargs)
        now = timezone.now()
        execution.tenant = tenant or circuit.tenant  # loaded with the trigger: no query
        execution.circuit, execution.version = circuit, version
        execution.status, execution.started_at, execution.created_at = ExecutionStatus.RUNNING, now, now
        execution.lease_owner = uuid.uuid4()
        execution.pk = reserve_id()
        entry = {
            "tenant": execution.tenant_id,
            "circuit": circuit.pk,
            "version": version.pk,
            "trigger": trigger.pk if trigger is not None else None,
            "trigger_type": execution.trigger_type,
            "caused_by": execution.caused_by_id,
            "chain_depth": execution.chain_depth,
            "input": execution.input,
            "started": now.isoformat(),
        }
        try:
            journal.record(execution.pk, entry)
        except Exception:
            log.warning("the inline-run journal is unreachable; the run takes the queued path", exc_info=True)
            execution.pk = None
            return None
        metrics.execution_started(execution, ExecutionStatus.QUEUED)
        engine = InlineEngine(execution, wait_seconds)  # (a version's first run reads its graph)
        # Back to the pool before waiting: the run's thread borrows its own. A caller holding one
        # while it waits would starve the runs it waits for once a pool's worth of callers wait.
        connection.close()
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                outcome["execution"] = engine.run()
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc
            finally:
                connection.close()  # this thread's connection goes back to the pool
                done.set()

        # Its own thread, so the wait bounds the answer even while one step runs long (the engine
        # stops only at step boundaries); the run's log lines keep the request's bound fields.
        threading.Thread(target=contextvars.copy_context().run, args=(work,), name=f"inline-{execution.pk}", daemon=True).start()
        if not done.wait(wait_seconds):
            # The wait ran out: the run becomes durable now (the answer names a row that exists) and
            # is handed to a worker at its next step boundary.
            engine.make_durable()
            return engine.execution
        if "error" in outcome:
            raise outcome["error"]
        return outcome["execution"]


# --- the sweep ----------------------------------------------------------------------------------


def recover_lost(now: float | None = None) -> int:
    """Turn inline runs whose process died (journal entry expired, no row) into failed executions.

    An entry whose row exists (the process died between the commit and removing the entry)
    is simply dropped. Returns how many executions were recovered.
    """
    if not enabled():
        return 0
    recovered = 0
    expired = journal.expired(now)
    drawn = _last_drawn_id() if expired else 0
    for execution_id in expired:
        entry = journal.entry(execution_id)
        if entry is not None and not Execution.objects.filter(pk=execution_id).exists():
            if execution_id <= drawn and _consistent(entry):
                recovered += _record_lost(execution_id, entry)
            else:  # not drawn from this database's sequence (a recreated or restored database, a stale Redis)
                log.warning("journal entry %s names no execution this database could have started; dropped", execution_id)
        journal.remove(execution_id)
    return recovered


def _last_drawn_id() -> int:
    """The highest id the execution table's sequence has handed out (an entry above it is not ours)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence(%s, 'id')::regclass), 0)", [Execution._meta.db_table])
        return cursor.fetchone()[0]


def _consistent(entry: dict) -> bool:
    return CircuitVersion.objects.filter(pk=entry.get("version"), circuit_id=entry.get("circuit"), circuit__tenant_id=entry.get("tenant")).exists()


def _record_lost(execution_id: int, entry: dict) -> int:
    started = datetime.fromisoformat(entry["started"])
    now = timezone.now()
    execution = Execution(
        pk=execution_id,
        tenant_id=entry["tenant"],
        circuit_id=entry["circuit"],
        version_id=entry["version"],
        trigger_id=entry.get("trigger"),
        trigger_type=entry.get("trigger_type", ""),
        caused_by_id=entry.get("caused_by"),
        chain_depth=entry.get("chain_depth", 1),
        input=entry.get("input") or {},
        status=ExecutionStatus.FAILED,
        created_at=started,
        started_at=started,
        finished_at=now,
        duration_ms=int((now - started).total_seconds() * 1000),
        error={
            "message": "the web process running this execution stopped before it finished; no step with side effects had run. Retry it to run it again.",
            "type": LOST_ERROR_TYPE,
        },
    )
    try:
        with transaction.atomic():
            execution.save_base(raw=True, force_insert=True)
            announce(execution, "execution.finished")
            transaction.on_commit(lambda: metrics.execution_finished(execution, ExecutionStatus.FAILED))
    except IntegrityError:  # its circuit was deleted meanwhile, or another sweep recorded it first
        log.warning("lost inline execution %s could not be recorded", execution_id, exc_info=True)
        return 0
    log.warning("inline execution %s was lost with its process; recorded as failed", execution_id)
    execution = Execution.objects.select_related("tenant", "circuit", "version").get(pk=execution_id)
    execution_finished.send(sender=Execution, execution=execution)  # failure alerts
    return 1
