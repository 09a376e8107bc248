"""Celery tasks. They take ids, re-load inside the tenant, and claim work with skip_locked."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from circuits.engine.start import claim, run_claimed, send_to_worker
from circuits.models import Execution, ExecutionStatus

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_execution(execution_id: int) -> str:
    execution = claim(execution_id)
    if execution is None:
        return "skipped"
    run_claimed(execution)
    return "done"


@shared_task(ignore_result=True)
def resume_due_executions(batch: int = 200) -> int:
    """Wake parked executions whose time has come and recover ones whose worker died."""
    now = timezone.now()
    due = (
        list(Execution.objects.filter(status=ExecutionStatus.WAITING, wait_until__lte=now).values_list("pk", flat=True)[:batch])
        + list(Execution.objects.filter(status=ExecutionStatus.RUNNING, lease_until__lt=now).values_list("pk", flat=True)[:batch])
        + list(
            # Queued but never picked up (a lost message): give it to a worker again.
            Execution.objects.filter(status=ExecutionStatus.QUEUED, created_at__lt=now - timedelta(minutes=2)).values_list("pk", flat=True)[:batch]
        )
    )
    for pk in due:
        send_to_worker(pk)
    return len(due)


@shared_task(ignore_result=True)
def fire_due_schedules() -> int:
    from circuits.triggers.schedule import fire_due

    return fire_due()
