"""Cron schedules: due triggers are claimed with skip_locked so two schedulers never double-fire."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from circuits.engine.start import NotRunnable, create_execution, enqueue
from circuits.models import Trigger, TriggerType, VersionStatus
from circuits.triggers.types import next_cron_time


@transaction.atomic
def fire_due(now=None, batch: int = 100) -> int:
    """Start one execution per due schedule trigger and move it to its next time (one transaction)."""
    now = now or timezone.now()
    due = (
        Trigger.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(type=TriggerType.SCHEDULE, enabled=True, next_run_at__lte=now, circuit__enabled=True)
        .filter(circuit__versions__status=VersionStatus.PUBLISHED)
        .select_related("circuit")
        .order_by("next_run_at")[:batch]
    )
    fired = 0
    for trigger in due:
        scheduled_for = trigger.next_run_at
        payload = {**(trigger.config.get("payload") or {}), "scheduled_for": scheduled_for.isoformat(), "fired_at": now.isoformat()}
        try:
            execution = create_execution(trigger.circuit, payload, trigger=trigger)
        except NotRunnable:
            execution = None
        if execution is not None:
            enqueue(execution)
            fired += 1
        # Missed runs (scheduler down) are not replayed one by one: the next time is after now.
        trigger.next_run_at = next_cron_time(trigger.config, after=now)
        trigger.last_fired_at = now
        trigger.save(update_fields=["next_run_at", "last_fired_at"])
    return fired
