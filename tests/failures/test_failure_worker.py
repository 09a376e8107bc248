"""Done-when of #15's failure handling, through real Celery workers on Redis: a failing circuit
notifies (in-app and Slack) and starts its error circuit, which runs on a worker too."""

from __future__ import annotations

import pytest

from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.services.circuits import UpdateCircuit
from circuits.tenancy.credentials import save_credential
from circuits.tenancy.models.notifications import Notification
from tests.engine.helpers import build, chain, node
from tests.engine.workers import new_queue, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]


def test_a_failing_circuit_notifies_and_starts_its_error_circuit_through_a_real_worker(world, settings, slack):
    settings.CELERY_TASK_DEFAULT_QUEUE = queue = new_queue()
    world.tenant.outbound_allowlist = [f"127.0.0.1:{slack.port}"]
    world.tenant.save()
    save_credential(world.tenant, "ops-alerts", "slack_webhook", {"url": slack.webhook_url})
    handler = build(world, "on-error", [node("note", "util.transform", {"template": "handled {{ trigger.id }}"})], chain("note"))
    flaky = build(world, "flaky", [node("call_crm", "control.stop", {"status": "failed", "message": "the CRM said no"})], chain("call_crm"))
    policy = {"notify": ["owner"], "slack": "ops-alerts", "error_circuit": "on-error", "digest_minutes": 0}  # 0: no flush left queued
    UpdateCircuit(world.tenant, world.owner, flaky, on_failure=policy).execute()
    worker = start_worker(queue)
    try:
        failed = create_execution(flaky, {"lead": 1})
        enqueue(failed)  # autocommit: on_commit fires at once
        handled = wait_for(
            lambda: Execution.objects.filter(circuit=handler, status=ExecutionStatus.SUCCEEDED).first(),
            timeout=40,
            what=lambda: f"the error circuit ({list(Execution.objects.values_list('circuit__slug', 'status', 'trigger_type'))})",
        )
        wait_for(lambda: slack.received or None, timeout=20, what="the Slack alert")
    finally:
        stop(worker)
    failed.refresh_from_db()
    assert failed.status == ExecutionStatus.FAILED
    assert handled.caused_by_id == failed.pk and handled.trigger_type == "error" and handled.output == f"handled {failed.pk}"
    assert Notification.objects.filter(tenant=world.tenant, user=world.owner, execution=failed, level="error").count() == 1
    assert len(slack.received) == 1 and "the CRM said no" in slack.received[0]["text"]
