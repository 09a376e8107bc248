"""The lease that makes one engine the only runner of an execution (see runner.py's docstring).

`claim()` draws a token and writes it to `Execution.lease_owner` with `lease_until` a lease
ahead (database time, so the clocks of workers and the beat never disagree). While the
engine runs, a heartbeat thread renews the lease every third of it; every write the engine
makes goes through `Lease.hold()`, one transaction that first renews the lease *on the
condition that the row still names this token* and then writes. The renewing UPDATE locks
the row until the write commits, so the sweep cannot hand the execution on half-way.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction

from actions.sdk import Interrupt
from circuits.automation.models.execution import Execution, ExecutionStatus, lease_expiry, lease_seconds

__all__ = ["CancelledInDatabase", "Lease", "LeaseLost", "lease_expiry", "lease_seconds", "new_token"]

log = logging.getLogger(__name__)


def new_token() -> uuid.UUID:
    return uuid.uuid4()


class LeaseLost(Interrupt):
    """Another engine owns this execution now: stop without writing anything more."""


class CancelledInDatabase(Exception):
    """The execution was cancelled while this engine still owned it (the runner turns it into Cancelled)."""


class Lease:
    def __init__(self, execution: Execution) -> None:
        self.execution_id = execution.pk
        self.token = execution.lease_owner
        self.seconds = lease_seconds()
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the heartbeat --------------------------------------------------------------

    def start(self) -> None:
        """Renew the lease in the background until `stop()`, also while one step runs long.

        Not inside an open transaction (a before-save circuit, a test's transaction): the
        execution row is then invisible to every other connection — the heartbeat's own and
        the sweep's alike — so no one can take it over, and a renewal would only miss it.
        """
        if self.token is None or connection.in_atomic_block:
            return
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.execution_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _beat(self) -> None:
        interval = max(0.2, self.seconds / 3)
        try:
            while not self._stop.wait(interval):
                try:
                    owned = self._renew()
                except DatabaseError:
                    # A passing database hiccup: try again next beat. If the lease lapses
                    # meanwhile, the next guarded write finds out.
                    log.warning("execution %s: could not renew the lease", self.execution_id, exc_info=True)
                    connection.close()
                    continue
                if not owned:
                    if not self.cancelled():
                        log.warning("execution %s: the lease was taken over; this engine stops at the next step", self.execution_id)
                        self.lost.set()
                    return
        finally:
            connection.close()  # this thread's own connection

    def _renew(self) -> bool:
        return Execution.objects.renew(self.execution_id, self.token)

    def _mine(self):
        return Execution.objects.filter(pk=self.execution_id, lease_owner=self.token)

    def cancelled(self) -> bool:
        return self._mine().filter(status=ExecutionStatus.CANCELLED).exists()

    # --- guarded writes -------------------------------------------------------------

    def check(self) -> None:
        """Cheap, local: raise LeaseLost once the heartbeat has seen the lease go."""
        if self.lost.is_set():
            raise LeaseLost(f"execution {self.execution_id}: the lease was taken over by another runner")

    @contextmanager
    def hold(self, *, closing: bool = False) -> Iterator[None]:
        """One transaction that writes only if this engine still owns the execution.

        `closing` writes record what already happened (a step's outcome, the end): they are
        still allowed on an execution a user cancelled meanwhile — no one else can claim a
        cancelled execution — while new work on it raises CancelledInDatabase.
        """
        self.check()
        with transaction.atomic():
            if not self._renew():
                if not self.cancelled():
                    self.lost.set()
                    raise LeaseLost(f"execution {self.execution_id}: this engine no longer owns it")
                if not closing:
                    raise CancelledInDatabase()
            yield
