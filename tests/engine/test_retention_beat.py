"""#15's done-when for retention through the real parts: a real `celery beat` sends the prune
task, which goes to the bulk queue, and a real worker of that kind deletes a week-old execution
past the tenant's 7-day window (and keeps a younger one)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone

from circuits.automation.dispatch import create_execution
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.automation.services.tenant_settings import UpdateTenantSettings
from circuits.core import queues
from tests.engine.helpers import build, chain, node
from tests.engine.workers import own_queue, start_beat, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]


def _aged(circuit, days: float) -> Execution:
    execution = create_execution(circuit, {})
    Execution.objects.filter(pk=execution.pk).update(created_at=timezone.now() - timedelta(days=days), status=ExecutionStatus.SUCCEEDED)
    StepRun.objects.create(execution=execution, node_key="t", action="util.transform", status="succeeded")
    return execution


def test_beat_sends_the_prune_to_the_bulk_worker_which_deletes_a_week_old_execution(world, settings, request):
    base = own_queue(settings)
    request.addfinalizer(lambda: redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete(*queues.all_queues(base)))
    UpdateTenantSettings(world.tenant, world.owner, retention={"days": 7}).execute()
    circuit = build(world, "weekly", [node("t", "util.transform", {"template": "x"})], chain("t"))
    week_old, younger = _aged(circuit, 8), _aged(circuit, 6)
    worker = start_worker(base, kinds=("bulk",), log="retention-beat-worker.log")
    beat = start_beat(base, resume_every=60, env={"EXECUTION_PRUNE_EVERY": "10"})
    try:
        wait_for(lambda: not Execution.objects.filter(pk=week_old.pk).exists(), timeout=90, what="beat's prune on the bulk worker")
    finally:
        stop(beat)
        stop(worker)
    assert not StepRun.objects.filter(execution_id=week_old.pk).exists()
    assert Execution.objects.filter(pk=younger.pk).exists() and StepRun.objects.filter(execution_id=younger.pk).exists()
