"""Cron schedules: due triggers are claimed with skip_locked so two schedulers never double-fire."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.db import transaction
from django.utils import timezone

from circuits.automation.dispatch import NotRunnable, create_execution, enqueue
from circuits.automation.models.trigger import Trigger
from circuits.automation.models.version import VersionStatus
from circuits.automation.triggers.base import TriggerKind
from circuits.automation.triggers.registry import register


def next_cron_time(config: dict, after: datetime | None = None) -> datetime:
    tz = ZoneInfo(config.get("timezone", "UTC"))
    base = (after or timezone.now()).astimezone(tz)
    return croniter(config["cron"], base).get_next(datetime).astimezone(ZoneInfo("UTC"))


@register
class ScheduleTrigger(TriggerKind):
    type = "schedule"
    label = "Schedule"
    description = "Fires on a cron schedule in a time zone (beat runs fire_due every minute)."
    schema = {
        "type": "object",
        "required": ["cron"],
        "properties": {
            "cron": {"type": "string", "title": "Cron expression", "description": "e.g. '0 9 * * 1-5' (09:00 on weekdays)"},
            "timezone": {"type": "string", "default": "UTC", "title": "Time zone"},
            "payload": {"type": "object", "title": "Payload"},
        },
        "additionalProperties": False,
    }
    order = 60
    payload_help = "Each run receives the Payload set here plus trigger.scheduled_for and trigger.fired_at (ISO times)."

    @classmethod
    def sample_payload(cls, config: dict) -> dict:
        return {**(config.get("payload") or {}), "scheduled_for": "2026-01-05T08:00:00+00:00", "fired_at": "2026-01-05T08:00:01+00:00"}

    @classmethod
    def check(cls, config: dict) -> list[str]:
        errors = []
        if not croniter.is_valid(config["cron"]):
            errors.append(f"config.cron: {config['cron']!r} is not a valid cron expression")
        try:
            ZoneInfo(config.get("timezone", "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(f"config.timezone: unknown time zone {config.get('timezone')!r}")
        return errors

    @classmethod
    def prepare(cls, trigger: Trigger) -> None:
        trigger.next_run_at = next_cron_time(trigger.config)


@transaction.atomic
def fire_due(now: datetime | None = None, batch: int = 100) -> int:
    """Start one execution per due schedule trigger and move it to its next time (one transaction)."""
    now = now or timezone.now()
    due = (
        Trigger.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(type=ScheduleTrigger.type, enabled=True, next_run_at__lte=now, circuit__enabled=True)
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
