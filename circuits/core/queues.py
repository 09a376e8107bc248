"""Celery queues per kind of work, so a long bulk job never holds up a run someone waits for.

Kinds (settings.CELERY_TASK_KINDS maps each task name to one):
- interactive: runs a caller waits for (a webhook that answers with the outcome, a test run
  from the builder, `/execute?wait=`);
- default: everything else started by events, records, webhooks, resumes and alerts;
- scheduled: the periodic tasks beat sends, and the executions schedule triggers start;
- bulk: ingestion (embedding), training, retention pruning and the executions of an event
  that fans out to many circuits.

Queue names derive from the base name CELERY_QUEUE at the time a task is sent (tests and
deployments point a process at a queue of their own by that one setting): the default kind
keeps the base name itself (an older worker started with `-Q <base>` keeps working), the
others add `.<kind>` (`circuitos.interactive`, `circuitos.scheduled`, `circuitos.bulk`).
A worker consumes the kinds in CELERY_WORKER_KINDS (all by default) unless `-Q` says otherwise
(circuitos_site/celery.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

KINDS = ("interactive", "default", "scheduled", "bulk")


def queue_for(kind: str, base: str | None = None) -> str:
    """The queue of `kind` under `base` (default: the process's CELERY_QUEUE)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of work {kind!r}: use one of {', '.join(KINDS)}")
    base = base or settings.CELERY_TASK_DEFAULT_QUEUE
    return base if kind == "default" else f"{base}.{kind}"


def all_queues(base: str | None = None) -> list[str]:
    return [queue_for(kind, base) for kind in KINDS]


def kind_of(task_name: str) -> str:
    """The kind a task is sent as when its caller names none (Celery's own tasks: default)."""
    # Celery's own tasks, and any task nobody classified, run as default work (a test lists
    # the project's tasks without a kind as a failure).
    return settings.CELERY_TASK_KINDS.get(task_name, "default")


def route_task(name: str, args: Any, kwargs: Any, options: dict, task: Any = None, **kw: Any) -> dict:
    """Celery's router (CELERY_TASK_ROUTES): the task's queue, computed when it is sent.

    An explicit `queue=` given to apply_async still wins (Celery merges the route under it):
    dispatch sends each execution's run to the queue of its own kind that way.
    """
    return {"queue": queue_for(kind_of(name))}
