"""Celery tasks. They take ids, re-load inside the tenant, and claim work with skip_locked."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models.functions import Now
from django.utils import timezone

from circuits.automation import retention
from circuits.automation.dispatch import claim, send_many_to_worker, send_to_worker
from circuits.automation.engine import inline
from circuits.automation.engine.runner import run_claimed
from circuits.automation.failures import delivery as failure_delivery
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.triggers.kinds.schedule import fire_due
from circuits.tenancy.models.effects import AppliedWrite
from circuits.tenancy.models.tenants import Tenant

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_execution(execution_id: int) -> str:
    execution = claim(execution_id)
    if execution is None:
        return "skipped"
    run_claimed(execution)
    return "done"  # also when the lease was lost on the way: the new owner finishes it


# A worker runs at most this many of a fan-out's executions itself; it sends the rest back to
# the queue (halving), so every worker slot gets a share of a big fan-out.
RUN_BATCH = 8


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_executions(execution_ids: list[int], kind: str = "default") -> int:
    """Run many executions sent as one message (an event fan-out); returns how many this call ran.

    Each is claimed on its own (skip_locked), just before it runs, so a message delivered twice
    (a worker died; acks_late) or a share sent on twice runs nothing twice: a finished or
    running execution is not claimable.
    """
    ids = list(execution_ids)
    while len(ids) > RUN_BATCH:
        half = (len(ids) + 1) // 2
        send_many_to_worker(ids[half:], kind)  # its taker halves it again, on the same queue
        ids = ids[:half]
    ran = 0
    for execution_id in ids:
        execution = claim(execution_id)
        if execution is not None:
            run_claimed(execution)
            ran += 1
    return ran


@shared_task(ignore_result=True)
def resume_due_executions(batch: int = 200) -> int:
    """Wake parked executions whose time has come and recover ones whose worker died.

    A running execution is only handed on once its lease lapsed (database time): a live
    runner renews its lease all along, also during one long step.
    """
    now = timezone.now()
    due = (
        list(Execution.objects.filter(status=ExecutionStatus.WAITING, wait_until__lte=now).values_list("pk", flat=True)[:batch])
        + list(Execution.objects.filter(status=ExecutionStatus.RUNNING, lease_until__lt=Now()).values_list("pk", flat=True)[:batch])
        + list(
            # Queued but never picked up (a lost message): give it to a worker again.
            Execution.objects.filter(status=ExecutionStatus.QUEUED, created_at__lt=now - timedelta(minutes=2)).values_list("pk", flat=True)[:batch]
        )
    )
    for pk in due:
        send_to_worker(pk)
    try:
        inline.recover_lost()  # inline runs whose web process died: failed, visibly
    except Exception:  # Redis unreachable: the next sweep tries again
        log.warning("recovering lost inline runs failed", exc_info=True)
    prune_applied_writes(batch)
    return len(due)


def prune_applied_writes(batch: int = 200) -> int:
    """Forget idempotency keys old enough that no execution can still repeat their step."""
    days = int(getattr(settings, "ENGINE_IDEMPOTENCY_KEEP_DAYS", 7))
    old = AppliedWrite.objects.filter(created_at__lt=timezone.now() - timedelta(days=days)).values_list("pk", flat=True)[:batch]
    return AppliedWrite.objects.filter(pk__in=list(old)).delete()[0]


@shared_task(ignore_result=True)
def fire_due_schedules() -> int:
    return fire_due()


@shared_task(ignore_result=True)
def prune_executions(batch: int = 500) -> int:
    """Delete finished executions past each tenant's retention (beat, every EXECUTION_PRUNE_EVERY s).

    A tenant at a time, in batches (each its own short transaction); a tenant with more to
    prune than one call takes gets the rest on the next run.
    """
    deleted = 0
    for tenant_id in Tenant.objects.order_by("pk").values_list("pk", flat=True):
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is not None:
            deleted += retention.prune_tenant(tenant, batch=batch)
    if deleted:
        log.info("pruned %d executions past their retention", deleted)
    return deleted


@shared_task(ignore_result=True)
def deliver_failure_alerts(execution_id: int) -> dict:
    """A failed execution's "on failure" policy: its error circuit and alerts (circuits/automation/failures/)."""
    try:
        return failure_delivery.deliver(execution_id)
    except Exception:  # logged, never retried into a storm: the digest and the mark already counted it
        log.exception("delivering the failure of execution %s failed", execution_id)
        return {"failed": True}


@shared_task(ignore_result=True)
def flush_failure_digest(tenant_id: int, circuit_id: int) -> dict:
    """A circuit's digest window ended: one alert for the failures counted in it (scheduled when it opened)."""
    try:
        return failure_delivery.deliver_digest(tenant_id, circuit_id)
    except Exception:
        log.exception("the failure digest of circuit %s failed", circuit_id)
        return {"failed": True}
