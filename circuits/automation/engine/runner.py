"""The engine: walks a version's graph, persisting every step before it moves on.

Durability comes from one rule: a step whose StepRun is `succeeded` is never run again.
Resuming an execution (after a worker died, a park, or "retry from the failed step")
simply walks the graph again from the start, reusing the stored output and port of every
finished step, so only unfinished work runs. Steps are identified by node key plus
*scope* (which loop iteration / parallel branch they ran in).

Exactly one runner per execution — the lease contract (circuits/automation/engine/lease.py):

- `claim()` takes a queued, due or abandoned execution and writes a fresh owner token
  (`Execution.lease_owner`) and `lease_until` = database now() + ENGINE_LEASE_SECONDS. An
  execution whose lease is live is nobody else's to run.
- While the engine runs, a heartbeat thread renews the lease every third of it — also
  while one step runs long, during inline waits and wherever run_now runs it (before-save
  circuits, sub-circuits). Callers that wait for an outcome (`?wait=true`) never run it: a
  worker does, they watch (circuits/automation/engine/waiting.py). Webhooks with `respond: wait`
  run inline (circuits/automation/engine/inline.py): an engine whose writes wait for one
  transaction at the end, or become this leased path at the first side-effecting step.
  The sweep (`resume_due_executions`, every ENGINE_RESUME_EVERY seconds) only hands on a running execution whose lease lapsed: its runner died or hung.
- Every write of the execution — StepRun inserts and updates, the batch of pure steps,
  parking, finishing, `vars` — runs in `_owned()`: one transaction that first renews the
  lease WHERE lease_owner = our token, then writes. The renewing UPDATE locks the row
  until the write commits, so a claim cannot slip in between the check and the write.
- A runner that finds its token gone (the heartbeat noticed, or a guarded write matched
  no row) raises LeaseLost: it stops at that step boundary, writes nothing more, does not
  finish the execution, and logs it. The new owner resumes from the stored steps.
- A user's cancel keeps the token: the runner still records the outcome of the step it
  was in (closing writes), but starts nothing new.
- The execution's own state changes (claim, renew, park, finish, cancel) are the guarded
  transitions of `ExecutionQuerySet` (circuits/automation/models/execution.py); each says whether it took
  effect and announces itself only after its transaction commits.

Deadlines — a step's result counts only if it arrives in time:

- A step's deadline is its `timeout_seconds` (default DEFAULT_STEP_TIMEOUT); built-in actions
  pass `ctx.time_left()` to their I/O so their work is cut off at it. A result (the output, or
  the vars the step set, which it sets on its own copy) arriving after the deadline is
  discarded and logged; the step is the timed-out attempt (error type `timeout`).
- With an explicit timeout the action runs in a helper thread; after the deadline that
  thread's engine writes (a container's body steps) are refused.

Idempotency — what a step that was in flight when its runner died does on resume:

- The new owner finds its StepRun still `running` and marks it failed (worker_lost). An
  action with `idempotent = True` (a wait, a GET, a container) simply runs again as the
  next attempt. Any other action runs again as the SAME attempt number, so it gets the
  same `ctx.idempotency_key` (HMAC of execution, node, scope, attempt); a retry after a
  failure is a new attempt with a new key.
- Side-effecting actions hand the key on: HTTP requests (web.http_request on unsafe
  methods, Slack posts) send it as `Idempotency-Key`; record writes store it in
  AppliedWrite (unique per tenant) in the write's own transaction and answer a repeat
  with the first write's result; e-mails derive their Message-ID from it. So a repeat
  after a crash is recognisable to the far side, and record writes are applied once.
"""

from __future__ import annotations

import contextvars
import json
import logging
import random
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from actions.sdk import ActionError, Cancelled, Context, Interrupt, LimitExceeded, Park, Parked, Result, Stop, Stopped
from circuits.automation.dispatch import claim
from circuits.automation.engine import graph as graphs
from circuits.automation.engine.context import StepContext, step_limits
from circuits.automation.engine.expressions import Budget, ExpressionError, contains_template, render_value
from circuits.automation.engine.lease import CancelledInDatabase, Lease, LeaseLost
from circuits.automation.engine.limits import Limits
from circuits.automation.engine.signals import execution_finished
from circuits.automation.engine.walk import Walk
from circuits.automation.lineage import running_step
from circuits.automation.models.execution import MAX_SCOPE_LENGTH, Execution, ExecutionStatus, StepRun, StepStatus, lifecycle_event
from circuits.core import logs, metrics, tracing
from circuits.core.live import publish_on_commit

log = logging.getLogger(__name__)

DEFAULT_STEP_TIMEOUT = 120.0
CANCEL_CHECK_INTERVAL = 0.2  # seconds
PINNED = "pinned"  # on the log entry of a step whose pinned data a test run used


def inline_wait_max() -> float:
    """Waits up to this long sleep in the worker; longer ones park the execution."""
    return float(getattr(settings, "ENGINE_INLINE_WAIT_SECONDS", 5.0))


SKIPPED = {"output": None, "port": None, "status": "skipped"}  # a node that did not run in its scope (dead path)


def cancel_key(execution: Execution) -> str:
    # The creation time makes the key unique even where ids are reused (a recreated database
    # sharing a Redis cache), so a stale flag can never cancel a different execution.
    return f"circuitos:cancel:{execution.pk}:{execution.created_at.timestamp():.6f}"


class ExecutionFailed(Interrupt):
    """A step failed with no error port or on-error policy to handle it: the execution fails."""

    def __init__(self, message: str, node: str | None = None, kind: str = "error"):
        super().__init__(message)
        self.node = node
        self.kind = kind


# Parked, Stopped and Cancelled are the SDK's interrupts (actions/sdk/interrupts.py): a
# container's action sees them come back through ctx.run_body / ctx.run_bodies.


class HandedOff(Interrupt):
    """An inline run gives the execution to a worker at a step boundary (circuits/automation/engine/inline.py)."""


# The engine's own interruptions pass through a step unchanged (never a step error or timeout).
_INTERRUPTIONS = (LeaseLost, Parked, Stopped, Cancelled, LimitExceeded, ExecutionFailed, HandedOff)


class StepTimedOut(ActionError):
    """The step ran past its deadline; anything it returns later is discarded."""


# Contextvar of a helper thread running a step with an explicit timeout: set once the step timed out.
_cut_off: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("circuitos_step_cut_off", default=None)


def _error_kind(exc: BaseException) -> str:
    return "timeout" if isinstance(exc, StepTimedOut) else type(exc).__name__


def _interruption_kind(interruption: BaseException) -> str:
    # Governor limits are one kind ("limit"), however they were raised.
    return "limit" if isinstance(interruption, LimitExceeded) else type(interruption).__name__


def _json_size(value: Any) -> int:
    return len(json.dumps(value, default=str))


def _jsonable(value: Any) -> Any:
    """Outputs are stored as JSON: make datetimes and other objects plain."""
    return json.loads(json.dumps(value, default=str))


class Engine:
    def __init__(self, execution: Execution, budget_seconds: float | None = None):
        self.execution = execution
        self.tenant = execution.tenant
        self.limits = Limits.for_tenant(self.tenant)
        self.batch_pure = bool(getattr(settings, "ENGINE_BATCH_PURE_STEPS", True))
        if budget_seconds is not None:  # before-save circuits run within a time budget
            self.limits = replace(self.limits, max_seconds=min(self.limits.max_seconds, budget_seconds))
        self.graph = graphs.from_version(execution.version)
        self.lock = threading.Lock()
        self.step_count = execution.step_count
        self.started_mono = time.monotonic()
        self.last_output: Any = None
        self.done: dict[tuple[str, str], StepRun] = {}
        self.attempts: dict[tuple[str, str], int] = {}
        self.waiting: dict[tuple[str, str], StepRun] = {}
        self._templated: dict[str, bool] = {}
        # The claim that handed us the execution has just seen it not cancelled: the first look
        # at the cancel flag (a Redis round trip) can wait one interval.
        self._cancel_checked_at = time.monotonic()
        # Finished steps of pure actions wait here and are written in one batch with the next
        # side-effecting step (or the end): a resume simply recomputes them.
        self.pending: list[StepRun] = []
        self.lease = Lease(execution)
        self.lease_lost = False

    # --- public entry ---------------------------------------------------------------

    def run(self) -> Execution:
        # Every log line of this run names it (a sub-circuit's run binds its own ids, then restores these).
        with logs.bound(tenant=self.tenant.slug, circuit=self.execution.circuit.slug, execution_id=self.execution.pk):
            return self._run_leased()

    def _run_leased(self) -> Execution:
        self.lease.start()
        # A sub-circuit run inside a timed-out step's helper thread is an execution of its own: not cut off with it.
        cut_off = _cut_off.set(None)
        try:
            return self._run()
        except LeaseLost as lost:
            # Another runner has the execution now: it owns every write from here on.
            log.warning("%s; this runner stops without writing", lost)
            self.lease_lost = True
            return self.execution
        finally:
            _cut_off.reset(cut_off)
            self.lease.stop()

    def _run(self) -> Execution:
        execution = self.execution
        if not getattr(execution, "claimed_without_steps", False):  # the claim says when there are none to read
            self._load_previous_steps()
        data = self._initial_data()
        self._publish(self._execution_event("execution.started"))
        log.info("execution %s started", execution.pk, extra={"trigger_type": execution.trigger_type})
        try:
            self._check_payload(execution.input, "the trigger payload")
            if execution.only_node:
                self._run_only(execution.only_node, data)
            else:
                self.run_scope(self.graph.starts, "", data)
        except (LeaseLost, HandedOff):
            raise
        except Parked as parked:
            return self._finish_parked(parked.until, data)
        except Stopped as stopped:
            status = ExecutionStatus.FAILED if stopped.stop.status == "failed" else ExecutionStatus.SUCCEEDED
            error = {"message": stopped.stop.message or "stopped", "type": "stop"} if status == ExecutionStatus.FAILED else None
            output = stopped.stop.output if stopped.stop.output is not None else self.last_output
            return self._finish(status, data, output=output, error=error)
        except Cancelled:
            return self._finish(ExecutionStatus.CANCELLED, data, error={"message": "cancelled", "type": "cancelled"})
        except LimitExceeded as exc:
            return self._finish(ExecutionStatus.FAILED, data, error={"message": str(exc), "type": "limit", "limit": exc.limit})
        except ExecutionFailed as exc:
            return self._finish(ExecutionStatus.FAILED, data, error={"message": str(exc), "node": exc.node, "type": exc.kind})
        except Exception as exc:  # an engine bug must still end the execution visibly
            log.exception("execution %s crashed", execution.pk)
            return self._finish(ExecutionStatus.FAILED, data, error={"message": f"internal error: {exc}", "type": "internal"})
        return self._finish(ExecutionStatus.SUCCEEDED, data, output=self.last_output)

    # --- walking --------------------------------------------------------------------

    def run_scope(self, starts: list[str], scope: str, data: dict) -> Any:
        """Run the nodes reachable from `starts` in one scope; returns the last output.

        A join (a node with several incoming edges) runs once, after every incoming edge has
        settled; a node all of whose incoming edges are dead is skipped. The order is
        deterministic (circuits/automation/engine/walk.py), so a resumed run takes the same path again.
        """
        walk = Walk(self.graph.region(starts))
        last = None
        while (key := walk.next()) is not None:
            if (key, scope) not in self.done:
                # A container about to run: until its body does, the body shows nothing — inside a
                # loop, not the previous iteration's (a loop over no items leaves it skipped).
                for inner in self.graph.inside(key):
                    data["steps"][inner] = dict(SKIPPED)
            port, output = self.run_node(key, scope, data)
            last = output
            if not scope:
                self.last_output = output
            for dead in walk.settle(key, port):
                # Say so in the context: a join after an if/else can tell which side ran, and
                # inside a loop a skipped node does not show the previous iteration's output —
                # nor does the body of a skipped container.
                for skipped in (dead, *self.graph.inside(dead)):
                    data["steps"][skipped] = dict(SKIPPED)
        stuck = walk.unsettled()
        if stuck:  # only a cycle leaves a node waiting, and validation refuses those: say so, never end quietly
            raise ExecutionFailed(f"steps {', '.join(map(repr, stuck))} never became ready: the graph has a cycle", node=stuck[0], kind="graph")
        return last

    def _run_only(self, key: str, data: dict) -> None:
        """Run one node alone (Execution.only_node): nothing before or after it runs.

        What it reads of earlier steps was copied into this execution as finished steps
        (circuits/automation/services/draft_runs.py); they fill `steps` as if they had run.
        """
        if key not in self.graph.nodes:
            raise ExecutionFailed(f"there is no step {key!r} in this version", node=key, kind="graph")
        for (other, scope), step in self.done.items():
            if other != key and not scope and other in self.graph.nodes:
                self._reuse(self.graph.nodes[other], step, data)
        _port, self.last_output = self.run_node(key, "", data)

    def run_body(self, key: str, port: str, scope: str, data: dict) -> Any:
        if len(scope) > MAX_SCOPE_LENGTH:
            raise LimitExceeded("max_scope_length", MAX_SCOPE_LENGTH, f"loops and parallel branches nest too deeply at {key!r}")
        return self.run_scope(self.graph.targets(key, port), scope, data)

    def run_node(self, key: str, scope: str, data: dict) -> tuple[str, Any]:
        # step_id is bound once the step row exists (side-effecting steps are saved before they run).
        # Each step is a span of the execution's task span when tracing is on (circuits/core/tracing.py).
        with (
            structlog.contextvars.bound_contextvars(step=key, step_id=None),
            tracing.span(f"step {key}", step=key, action=self.graph.nodes[key].action, execution_id=self.execution.pk, tenant=self.tenant.slug),
        ):
            return self._run_node(key, scope, data)

    def _run_node(self, key: str, scope: str, data: dict) -> tuple[str, Any]:
        node = self.graph.nodes[key]
        ident = (key, scope)
        finished = self.done.get(ident)
        if finished is not None:
            return self._reuse(node, finished, data)
        waiting = self.waiting.get(ident)
        if waiting is not None:
            if waiting.resume_at and waiting.resume_at > timezone.now():
                raise Parked(waiting.resume_at)
            if waiting.status == StepStatus.WAITING:
                return self._complete_wait(node, waiting, data)
        # A node run alone runs for real: its own pinned data is what the user wants to replace.
        if node.pinned is not None and self.execution.is_test and not node.action_class.container and key != self.execution.only_node:
            return self._use_pinned(node, scope, data)
        self._check_running()
        action_class = node.action_class
        action = action_class()
        retry = node.retry or {}
        max_attempts = int(retry.get("max_attempts", 1))
        attempt = self.attempts.get(ident, 0)
        while True:
            attempt += 1
            self._count_step()
            try:
                config = self._render_config(node, action_class, data)
            except ExpressionError as exc:
                step = self._new_step(node, scope, attempt, None)
                self._fail_step(step, f"expression error: {exc}", "expression")
                return self._on_error(node, step, data, str(exc))
            problems = action_class.validate_config(config, rendered=True) if self._has_templates(node) else []
            if problems:  # a template rendered to a value the action cannot take
                step = self._new_step(node, scope, attempt, config)
                self._fail_step(step, "invalid config after rendering: " + "; ".join(problems), "config")
                return self._on_error(node, step, data, "; ".join(problems))
            step = self._new_step(node, scope, attempt, config)
            if action_class.side_effects or action_class.container:
                # Persisted before the action runs — a crash leaves a visible trace — and only
                # while this runner still owns the execution: a runner that lost it stops here.
                with self._owned():
                    self.flush_pending()
                    step.save()
                logs.bind(step_id=step.pk)
            self._publish_step("step.started", step)
            ctx = StepContext(
                tenant=self.tenant,
                execution=self.execution,
                node_key=key,
                data=data,
                deadline=time.monotonic() + (node.timeout_seconds or DEFAULT_STEP_TIMEOUT),
                engine=self,
                scope=scope,
                idempotency_key=self.idempotency_key(key, scope, attempt),
                limits=step_limits(self.limits, inline_wait_max()),
            )
            try:
                with running_step(self.execution):  # executions this step starts carry its lineage
                    result = self._call(action, ctx, config, node.timeout_seconds)
            except LeaseLost:
                raise  # nothing more is written: the new owner resumes this step
            except Interrupt as interruption:  # parked, stopped, cancelled, a limit, a failed body: not this step's own failure
                if step.pk and step.status == StepStatus.RUNNING:
                    if action_class.container and not isinstance(interruption, LimitExceeded):
                        with self._owned(closing=True):
                            step.delete()  # a container interrupted by its body: it runs again on resume
                    else:  # the step itself was stopped (cancel, limit): say so on the step
                        step.logs = ctx.logs
                        self._fail_step(step, str(interruption) or type(interruption).__name__.lower(), _interruption_kind(interruption))
                elif step.status == StepStatus.RUNNING and isinstance(interruption, LimitExceeded):  # a pure step not yet written
                    step.logs = ctx.logs
                    self._fail_step(step, str(interruption), "limit")
                raise
            except Exception as exc:
                message = str(exc) if isinstance(exc, ActionError | ExpressionError) else f"{type(exc).__name__}: {exc}"
                step.logs = ctx.logs
                self._fail_step(step, message, _error_kind(exc), exc if not isinstance(exc, ActionError) else None)
                if attempt < max_attempts:
                    delay = self._backoff(retry, attempt)
                    if delay > inline_wait_max():
                        step.resume_at = timezone.now() + timedelta(seconds=delay)
                        with self._owned(closing=True):
                            step.save(update_fields=["resume_at"])
                        raise Parked(step.resume_at) from None
                    self._sleep(delay)
                    continue
                return self._on_error(node, step, data, message)
            return self._succeed(node, step, ctx, result, data)

    # --- step outcomes --------------------------------------------------------------

    def _succeed(self, node, step: StepRun, ctx: Context, result: Any, data: dict) -> tuple[str, Any]:
        port = graphs.DONE_PORT if node.action_class.container else "next"
        output = result
        if isinstance(result, Result):
            output, port = result.output, result.port
        elif isinstance(result, Park):
            until = result.until
            step.status = StepStatus.WAITING
            step.resume_at = until
            step.output = _jsonable(result.output)
            step.logs = ctx.logs
            with self._owned(closing=True):
                self.flush_pending()
                step.save()
            self._publish_step("step.waiting", step)
            raise Parked(until)
        elif isinstance(result, Stop):
            output = result.output
        output = _jsonable(output)
        try:
            self._check_payload(output, f"the output of {node.key!r}")
        except LimitExceeded as exc:  # the step is over: say so on it before the execution fails
            step.logs = ctx.logs
            self._fail_step(step, str(exc), "limit")
            raise
        step.status = StepStatus.SUCCEEDED
        step.port = port
        step.output = output
        step.logs = ctx.logs
        self._close(step)
        data["steps"][node.key] = {"output": output, "port": port, "status": "succeeded"}
        self._publish_step("step.finished", step)
        if isinstance(result, Stop):
            raise Stopped(result)
        return port, output

    def _reuse(self, node, step: StepRun, data: dict) -> tuple[str, Any]:
        data["steps"][node.key] = {"output": step.output, "port": step.port, "status": step.status}
        action_class = node.action_class
        if action_class is not None:
            action_class.replay(data, step.output)
        return step.port or "next", step.output

    def _use_pinned(self, node, scope: str, data: dict) -> tuple[str, Any]:
        """A test run takes a node's pinned data as its result: the action does not run (no
        request sent, no record written). Only test runs: a real execution always runs it."""
        self._check_running()
        self._count_step()
        ident = (node.key, scope)
        attempt = self.attempts.get(ident, 0) + 1
        step = self._new_step(node, scope, attempt, None)
        output = _jsonable(node.pinned.get("output"))
        port = node.pinned.get("port") or "next"
        self._publish_step("step.started", step)
        step.status = StepStatus.SUCCEEDED
        step.port = port
        step.output = output
        step.logs = [{"level": "info", "message": "pinned data used: the step did not run in this test run", PINNED: True}]
        self._close(step)
        data["steps"][node.key] = {"output": output, "port": port, "status": "succeeded"}
        node.action_class.replay(data, output)
        self._publish_step("step.finished", step)
        return port, output

    def _complete_wait(self, node, step: StepRun, data: dict) -> tuple[str, Any]:
        step.status = StepStatus.SUCCEEDED
        step.port = "next"
        self._close(step)
        data["steps"][node.key] = {"output": step.output, "port": "next", "status": "succeeded"}
        self._publish_step("step.finished", step)
        return "next", step.output

    def _on_error(self, node, step: StepRun, data: dict, message: str) -> tuple[str, Any]:
        error = {"message": message, "node": node.key}
        data["steps"][node.key] = {"output": None, "error": error, "status": "failed", "port": graphs.ERROR_PORT}
        if self.graph.has_port_edge(node.key, graphs.ERROR_PORT):
            self._mark_handled(step, graphs.ERROR_PORT)
            return graphs.ERROR_PORT, None
        if node.on_error == "continue":
            self._mark_handled(step, "next")
            return "next", None
        raise ExecutionFailed(f"step {node.key!r} failed: {message}", node=node.key)

    def _mark_handled(self, step: StepRun, port: str) -> None:
        # The failure is handled by the graph: on resume, follow the same port again.
        step.port = port
        with self._owned(closing=True):
            step.save(update_fields=["port"])
        self.done[(step.node_key, step.scope)] = step

    def _new_step(self, node, scope: str, attempt: int, config: Any) -> StepRun:
        return StepRun(
            execution=self.execution,
            node_key=node.key,
            action=node.action,
            scope=scope,
            attempt=attempt,
            status=StepStatus.RUNNING,
            input=_jsonable(config) if config is not None else None,
            started_at=timezone.now(),
        )

    def _fail_step(self, step: StepRun, message: str, kind: str, exc: BaseException | None = None) -> None:
        step.status = StepStatus.FAILED
        step.error = {"message": message, "type": kind}
        if exc is not None:
            step.error["traceback"] = "".join(traceback.format_exception(exc, limit=-3))[-2000:]
        self._close(step)
        self._publish_step("step.finished", step)

    def _close(self, step: StepRun) -> None:
        step.finished_at = timezone.now()
        step.duration_ms = (step.finished_at - step.started_at).total_seconds() * 1000 if step.started_at else None
        node = self.graph.nodes[step.node_key]
        action_class = node.action_class
        metrics.step_finished(node.action, step.status, step.duration_ms)
        if self._defer_write(step, action_class):
            self._check_cut_off()
            with self.lock:
                self.pending.append(step)
        else:
            with self._owned(closing=True):
                self.flush_pending()
                step.save()
        if step.status == StepStatus.SUCCEEDED:
            self.done[(step.node_key, step.scope)] = step
        log.info(
            "step %s %s",
            step.node_key,
            step.status,
            extra={"action": node.action, "step_id": step.pk, "attempt": step.attempt, "duration_ms": step.duration_ms},
        )

    def _defer_write(self, step: StepRun, action_class) -> bool:
        """A finished pure step waits in `pending` for the next write (a resume simply recomputes it)."""
        return step.pk is None and step.status == StepStatus.SUCCEEDED and self.batch_pure and not (action_class.side_effects or action_class.container)

    def flush_pending(self) -> None:
        """Write the batched pure steps. Callers hold `_owned()`: the batch is a write too."""
        with self.lock:
            pending, self.pending = self.pending, []
        if pending:
            StepRun.objects.bulk_create(pending)

    # --- running an action ------------------------------------------------------------

    def _call(self, action, ctx: Context, config: dict, timeout: float | None) -> Any:
        """Run the action; its result (the return value and the vars it set) counts only if it is in time.

        A result that arrives after the step's deadline is discarded and logged: the step is the
        timed-out attempt, and a retry applies its own effect once. An explicit timeout is
        also enforced: the action runs in a helper thread and the step fails at the deadline
        even if the action ignores `ctx.deadline` (built-in actions pass `ctx.time_left()` to
        their I/O, so the helper thread's connection is cut at the deadline as well).
        """
        deadline = ctx.deadline
        outer_vars, before, staged_vars = self._stage_vars(action, ctx)
        if not timeout:
            try:
                result = action.run(ctx, config)
            except Exception as exc:
                self._raise_timed_out_instead(action, ctx, exc)
                raise
        else:
            cutoff = threading.Event()
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"step-{ctx.node_key}")
            future = pool.submit(contextvars.copy_context().run, self._run_in_thread, action, ctx, config, cutoff)
            try:
                result = future.result(timeout=max(0.0, deadline - time.monotonic()) if deadline is not None else timeout)
            except FutureTimeout:
                # Whatever the helper thread does from now on is discarded: its vars live in its own
                # copy, and the engine writes nothing more for it (the cutoff, see _check_cut_off).
                cutoff.set()
                future.add_done_callback(lambda f, key=ctx.node_key: self._log_late(key, f))
                raise StepTimedOut(f"timed out after {timeout:g} seconds") from None
            except Exception as exc:
                self._raise_timed_out_instead(action, ctx, exc)
                raise
            finally:
                pool.shutdown(wait=False)
        if deadline is not None and time.monotonic() > deadline and not action.container:
            # A late answer (an action that blocked past its deadline) is not recorded.
            log.warning("execution %s, step %r: a result arrived after the deadline and was discarded", self.execution.pk, ctx.node_key)
            ctx.log("the result arrived after the step's deadline and was discarded", level="warning")
            raise StepTimedOut(f"timed out after {timeout or DEFAULT_STEP_TIMEOUT:g} seconds (a late result was discarded)")
        if staged_vars is not None:
            # Only the variables this step changed: parallel branches set theirs meanwhile.
            outer_vars.update({k: v for k, v in staged_vars.items() if k not in before or before[k] is not v})
        return result

    @staticmethod
    def _stage_vars(action, ctx: Context) -> tuple[dict, dict, dict | None]:
        """Give a non-container step its own copy of `vars` (containers share theirs with their bodies' steps).

        Returns the execution's vars, what they were when the step started, and the step's copy.
        """
        outer = ctx.data.setdefault("vars", {})
        if action.container:
            return outer, {}, None
        staged = dict(outer)
        ctx.data = {**ctx.data, "vars": staged}
        return outer, dict(outer), staged

    @staticmethod
    def _raise_timed_out_instead(action, ctx: Context, exc: Exception) -> None:
        """An error raised at or after the deadline (the action's own I/O timeout firing) is the step's timeout."""
        if isinstance(exc, _INTERRUPTIONS) or action.container or ctx.deadline is None or time.monotonic() < ctx.deadline:
            return
        raise StepTimedOut(f"timed out: {exc}" if isinstance(exc, ActionError) else f"timed out: {type(exc).__name__}: {exc}") from exc

    def _log_late(self, node_key: str, future) -> None:
        outcome = "failed" if future.exception() is not None else "returned a result"
        log.warning("execution %s, step %r: the timed-out action %s after all; discarded", self.execution.pk, node_key, outcome)

    @staticmethod
    def _run_in_thread(action, ctx: Context, config: dict, cutoff: threading.Event) -> Any:
        _cut_off.set(cutoff)  # this thread's engine writes (a container's body) stop at the deadline
        try:
            return action.run(ctx, config)
        finally:
            connection.close()

    @staticmethod
    def _check_cut_off() -> None:
        cutoff = _cut_off.get()
        if cutoff is not None and cutoff.is_set():
            raise LeaseLost("the step this work belongs to timed out; its late work is not recorded")

    def _has_templates(self, node) -> bool:
        key = node.key
        if key not in self._templated:
            self._templated[key] = contains_template(node.config)
        return self._templated[key]

    def _render_config(self, node, action_class, data: dict) -> dict:
        # A render stops at the step's deadline, and when the execution is cancelled or out of time.
        budget = Budget(deadline=time.monotonic() + (node.timeout_seconds or DEFAULT_STEP_TIMEOUT), check=self._check_running)
        raw = set(action_class.raw_fields)
        if not raw:
            return render_value(node.config, data, budget=budget)
        return {k: (v if k in raw else render_value(v, data, budget=budget)) for k, v in node.config.items()}

    def _backoff(self, retry: dict, attempt: int) -> float:
        base = float(retry.get("backoff_seconds", 1.0))
        cap = float(retry.get("max_backoff_seconds", 60.0))
        delay = min(cap, base * (2 ** (attempt - 1)))
        return delay * random.uniform(0.8, 1.2)  # jitter spreads retries of many executions

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.25))
            self._check_cancel()
            self.lease.check()  # an inline wait of a runner that lost the lease ends early

    # --- ownership ------------------------------------------------------------------

    @contextmanager
    def _owned(self, *, closing: bool = False) -> Iterator[None]:
        """The transaction every write of this execution goes through (see the module doc)."""
        self._check_cut_off()
        try:
            with self.lease.hold(closing=closing):
                yield
        except CancelledInDatabase:
            raise Cancelled() from None

    def run_child(self, child: Execution) -> Execution:
        """Run a sub-circuit's execution here, as its own engine (the step waits for it)."""
        return run_now(child)

    def idempotency_key(self, node_key: str, scope: str, attempt: int) -> str:
        """The same for a step and for its re-run after a lost worker; new for each retry.

        Keyed with the site's secret: it names no execution to whoever receives it, and two
        installations never send the same key.
        """
        e = self.execution
        material = f"{e.pk}:{e.created_at.timestamp():.6f}:{node_key}:{scope}:{attempt}"
        return salted_hmac("circuitos.engine.idempotency-key", material, algorithm="sha256").hexdigest()[:48]

    # --- limits, cancel, bookkeeping -----------------------------------------------

    def _count_step(self) -> None:
        with self.lock:
            self.step_count += 1
            count = self.step_count
        if count > self.limits.max_steps:
            raise LimitExceeded("max_steps", self.limits.max_steps, f"more than {self.limits.max_steps} steps in one execution")

    def _check_running(self) -> None:
        self.lease.check()
        self._check_cancel()
        if time.monotonic() - self.started_mono > self.limits.max_seconds:
            raise LimitExceeded("max_seconds", self.limits.max_seconds, f"the execution ran longer than {self.limits.max_seconds:g} seconds")

    def _check_cancel(self) -> None:
        # The flag lives in the shared cache (a Redis round trip): look at most every 0.2 s,
        # so a cancel still lands within a fraction of a second without taxing every step.
        now = time.monotonic()
        if now - self._cancel_checked_at < CANCEL_CHECK_INTERVAL:
            return
        self._cancel_checked_at = now
        if cache.get(cancel_key(self.execution)):
            raise Cancelled()

    def _check_payload(self, value: Any, what: str) -> None:
        size = _json_size(value)
        if size > self.limits.max_payload_bytes:
            raise LimitExceeded("max_payload_bytes", self.limits.max_payload_bytes, f"{what} is {size} bytes")

    def _load_previous_steps(self) -> None:
        lost: list[StepRun] = []
        for step in StepRun.objects.filter(execution=self.execution).order_by("pk"):
            ident = (step.node_key, step.scope)
            self.attempts[ident] = max(self.attempts.get(ident, 0), step.attempt)
            if step.status == StepStatus.SUCCEEDED or (step.status == StepStatus.FAILED and step.port):
                self.done[ident] = step
            elif step.status == StepStatus.WAITING or (step.status == StepStatus.FAILED and step.resume_at):
                self.waiting[ident] = step
            elif step.status == StepStatus.RUNNING and ident not in self.done:
                lost.append(step)
        if lost:
            with self._owned(closing=True):
                for step in lost:
                    self._mark_lost(step)
        for ident, step in list(self.waiting.items()):
            if step.status == StepStatus.FAILED and step.resume_at and step.resume_at <= timezone.now():
                del self.waiting[ident]  # retry backoff is over: the next attempt runs normally

    def _mark_lost(self, step: StepRun) -> None:
        """A runner stopped during this step (its worker died, or it lost the lease): it runs again.

        The action decides how: an idempotent one simply runs again as the next attempt; any
        other runs again under the same attempt number, so with the same idempotency key,
        which lets the far side recognise the repeat and refuse a second apply.
        """
        ident = (step.node_key, step.scope)
        node = self.graph.nodes.get(step.node_key)
        action_class = node.action_class if node is not None else None
        same_key = action_class is not None and not action_class.idempotent and not action_class.container
        if same_key:
            self.attempts[ident] = step.attempt - 1
            message = "the worker stopped during this step; it runs again with the same idempotency key"
        else:
            message = "the worker stopped during this step; it runs again as the next attempt"
        step.status = StepStatus.FAILED
        step.error = {"message": message, "type": "worker_lost"}
        step.finished_at = timezone.now()
        step.save(update_fields=["status", "error", "finished_at"])

    def _initial_data(self) -> dict:
        execution = self.execution
        return {
            "trigger": execution.input,
            "steps": {},
            "vars": dict(execution.vars or {}),
            "tenant": {"id": self.tenant.pk, "slug": self.tenant.slug, "name": self.tenant.name},
            "execution": {
                "id": execution.pk,
                "circuit": execution.circuit.slug,
                "version": execution.version.number,
                "trigger_type": execution.trigger_type,
                "is_test": execution.is_test,
            },
        }

    def on_log(self, ctx: Context, entry: dict) -> None:
        # Live in a worker (no transaction: published at once); inside a before-save's transaction only
        # once it commits, like every other event — a refused save's log lines were never written.
        self._publish({"kind": "log", "execution": self.execution.pk, "node": ctx.node_key, **entry})

    def _publish(self, event: dict) -> None:
        publish_on_commit(self.tenant.pk, self.execution.pk, event)

    def _publish_step(self, kind: str, step: StepRun) -> None:
        # After the step's write commits: a change that rolls back (a before-save save refused) was never seen.
        self._publish(
            {
                "kind": kind,
                "execution": self.execution.pk,
                "circuit": self.execution.circuit.slug,
                "node": step.node_key,
                "scope": step.scope,
                "attempt": step.attempt,
                "status": step.status,
                "port": step.port,
                "duration_ms": step.duration_ms,
                "output": step.output if kind == "step.finished" else None,
                "error": step.error,
            },
        )

    def _execution_event(self, kind: str) -> dict:
        return lifecycle_event(kind, self.execution)

    def _finish_parked(self, until: datetime, data: dict) -> Execution:
        e = self.execution
        with self._owned(closing=True):
            self.flush_pending()
            Execution.objects.park(e, self.lease.token, until=until, vars=data.get("vars", {}), step_count=self.step_count)
        return e

    def _finish(self, status: str, data: dict, *, output: Any = None, error: dict | None = None) -> Execution:
        """The end: the guarded finishing UPDATE and the batched step rows, in one transaction.

        The UPDATE goes first: it is itself the lease check (it matches only a running row that
        still names our token) and locks the row, so no renewal is needed before it. When it
        matches nothing, either a user cancelled meanwhile (the steps' outcomes are still
        recorded: closing writes) or the lease is gone (nothing is written: LeaseLost rolls back).
        The instance already holds what was written: no re-read, unless someone else finished it.
        """
        e = self.execution
        self._check_cut_off()
        self.lease.check()
        with transaction.atomic():
            # Only a running execution is finished here: a concurrent cancel keeps its status.
            finished = Execution.objects.finish(
                e, self.lease.token, status=status, output=_jsonable(output), error=error, vars=data.get("vars", {}), step_count=self.step_count
            )
            if not finished and not self.lease.cancelled():
                self.lease.lost.set()
                raise LeaseLost(f"execution {e.pk}: this engine no longer owns it")
            self.flush_pending()
        if not finished:
            e.refresh_from_db()  # cancelled meanwhile: the row holds the cancel's outcome
        log.info("execution %s %s", e.pk, e.status, extra={"status": e.status, "duration_ms": e.duration_ms, "steps": self.step_count})
        if finished:
            # No cancel flag to delete: a cancel writes it only after cancelling the row, which
            # this finish would then not have matched (the flag expires on its own).
            execution_finished.send(sender=Execution, execution=e)
        return e


def run_claimed(execution: Execution, budget_seconds: float | None = None) -> Execution:
    return Engine(execution, budget_seconds=budget_seconds).run()


def run_now(execution: Execution, budget_seconds: float | None = None) -> Execution:
    """Run in this process (before-save circuits, sub-circuits, tests); callers that only wait use waiting.wait_for_outcome."""
    claimed = claim(execution.pk)
    if claimed is None:
        execution.refresh_from_db()
        return execution
    return run_claimed(claimed, budget_seconds)


def close_thread_connections() -> None:
    close_old_connections()
    connection.close()
