"""A caller waiting for an execution that a worker runs: the caller's patience bounds the wait, never the run.

`POST /execute?wait=true` (and webhooks with `respond: wait` where inline runs are not
available: circuits/automation/engine/inline.py runs those in the web process) enqueue the
execution like any other start and then only *watch* it. The web process never claims it, so there is no
hand-over to get right: the worker that claims it is its one runner under the lease
contract (circuits/automation/engine/runner.py), runs it with the tenant's own governor limits, and
finishes it whether or not anyone still waits. When the wait runs out first, the caller is
answered 202 with where to find the execution.

Why not run it here and hand it over when the wait runs out? The engine only stops at a
step boundary, so a step running past the wait would hold the answer (or need a thread
that goes on running in the web process after answering), and the hand-over itself — park
the run, give up the lease, enqueue — would be a second way for a run to change owners,
next to claim and the sweep. Watching keeps a single way in.

Why poll the row rather than listen on the execution's channel group? The database is the
truth; live events are best-effort (published by a background thread, lost if a publisher
dies, and the embedded channel layer is per process). A poll is one primary-key lookup of
one column, backing off to every POLL_MAX seconds, for at most API_WAIT_SECONDS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

from circuits.automation.models.execution import Execution, ExecutionStatus

POLL_FIRST = 0.02  # seconds: a quick circuit is answered within a few milliseconds of finishing
POLL_MAX = 0.25
# Still in a runner's hands: the caller goes on waiting. Finished and parked (waiting for
# time to pass) are both answers.
IN_PROGRESS = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)


_lock = threading.Lock()
_waiting = 0  # callers of this process waiting right now


@contextmanager
def _place() -> Iterator[bool]:
    """A place among the API_WAIT_MAX_CALLERS callers this process lets wait at once, if one is free.

    Each waiting caller holds a web thread and a database connection; webhooks are anonymous
    (the URL is the credential), so without a cap a burst of them could use up the database's
    connections for everyone. A caller without a place is answered at once, as if its wait ran out.
    """
    global _waiting
    with _lock:
        granted = _waiting < settings.API_WAIT_MAX_CALLERS
        if granted:
            _waiting += 1
    try:
        yield granted
    finally:
        if granted:
            with _lock:
                _waiting -= 1


def wait_for_outcome(execution_id: int, seconds: float) -> Execution:
    """The execution once it finished or parked, or as it stands when `seconds` ran out.

    Inside a transaction nothing can start before the commit (the execution is enqueued on
    commit), so there is nothing to wait for: the execution is returned as it stands; so is
    it when API_WAIT_MAX_CALLERS callers are waiting already.
    """
    with _place() as granted:
        deadline = time.monotonic() + (max(seconds, 0.0) if granted and not connection.in_atomic_block else 0.0)
        pause = POLL_FIRST
        while True:
            status = Execution.objects.filter(pk=execution_id).values_list("status", flat=True).first()
            left = deadline - time.monotonic()
            if status not in IN_PROGRESS or left <= 0:
                break
            time.sleep(min(pause, left))
            pause = min(pause * 2, POLL_MAX)
    return Execution.objects.select_related("tenant", "circuit", "version").get(pk=execution_id)
