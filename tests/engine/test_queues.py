"""Queues per kind of work (circuits/core/queues.py) through a real Celery worker on Redis.

A worker that consumes only the interactive queue runs what a caller waits for while bulk
work stays on the bulk queue, and /metrics counts what waits on each queue.
"""

from __future__ import annotations

import re

import pytest
import redis
from celery import current_app
from django.conf import settings

from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.services.executions import StartExecution
from circuits.automation.triggers.kinds.event import publish_event
from circuits.core import queues
from tests.engine.helpers import build, chain, node
from tests.engine.workers import own_queue, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis


def _project_tasks() -> set[str]:
    current_app.loader.import_default_modules()  # the autodiscovered task modules
    return {name for name in current_app.tasks if not name.startswith("celery.")}


def test_every_registered_task_has_a_kind_of_work():
    without_kind = sorted(_project_tasks() - set(settings.CELERY_TASK_KINDS))
    assert without_kind == [], f"tasks without a kind in CELERY_TASK_KINDS: {without_kind}"
    stale = sorted(set(settings.CELERY_TASK_KINDS) - _project_tasks())
    assert stale == [], f"CELERY_TASK_KINDS names tasks that do not exist: {stale}"
    assert set(settings.CELERY_TASK_KINDS.values()) <= set(queues.KINDS)


def test_the_router_sends_each_task_to_the_queue_of_its_kind(settings):
    settings.CELERY_TASK_DEFAULT_QUEUE = "base"
    router = current_app.amqp.router
    routed = {name: router.route({}, name)["queue"].name for name in settings.CELERY_TASK_KINDS}
    assert routed["circuits.automation.tasks.prune_executions"] == "base.bulk"
    assert routed["intelligence.ml.tasks.train_model"] == "base.bulk"
    assert routed["intelligence.rag.tasks.embed_chunks"] == "base.bulk"
    assert routed["circuits.automation.tasks.resume_due_executions"] == "base.scheduled"
    assert routed["circuits.automation.tasks.deliver_failure_alerts"] == "base"
    assert all(routed[name] == queues.queue_for(kind, "base") for name, kind in settings.CELERY_TASK_KINDS.items())
    # An explicit queue still wins over the route.
    assert router.route({"queue": "elsewhere"}, "circuits.automation.tasks.prune_executions")["queue"].name == "elsewhere"


def test_an_unknown_kind_of_work_is_refused_by_name():
    with pytest.raises(ValueError, match="'urgent'"):
        queues.queue_for("urgent", "base")


def _queued(queue: str) -> int:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(queue)


def _broker_lengths(client) -> dict[str, float]:
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    found = re.findall(r'circuitos_broker_queue_length\{kind="(\w+)",queue="([^"]+)"\} (\S+)', text)
    assert all(queue == queues.queue_for(kind) for kind, queue, _n in found)
    return {kind: float(n) for kind, _queue, n in found}


@needs_postgres()
@needs_redis()
@pytest.mark.django_db(transaction=True)
def test_an_interactive_worker_runs_a_waited_run_while_bulk_work_waits_on_its_queue(world, settings, client, request):
    base = own_queue(settings)
    request.addfinalizer(lambda: redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(*queues.all_queues(base)))
    settings.ENGINE_BULK_FANOUT = 2
    template = [node("out", "util.transform", {"template": "{{ trigger.n }}"})]
    fanned = [build(world, f"on-signup-{i}", template, chain("out"), triggers=[{"type": "event", "config": {"event": "lead.created"}}]) for i in range(2)]
    waited = build(world, "waited", template, chain("out"))
    # A big event's runs (one message for both: a fan-out) and a prune are bulk work: sent before
    # the worker starts, they wait on the bulk queue.
    _event, bulk_runs = publish_event(world.tenant, "lead.created", {"n": 0})
    assert {e.circuit for e in bulk_runs} == set(fanned)
    current_app.tasks["circuits.automation.tasks.prune_executions"].apply_async()
    assert _queued(queues.queue_for("bulk")) == 2
    assert _broker_lengths(client)["bulk"] == 2

    worker = start_worker(base, kinds=("interactive",), log="queues-interactive-worker.log")
    try:
        execution = StartExecution(world.tenant, world.owner, waited, {"n": 7}, wait_seconds=30).execute()
        assert execution.status == ExecutionStatus.SUCCEEDED and execution.output == 7
        # A plain run (default kind) is not this worker's either.
        plain = create_execution(waited, {"n": 8})
        enqueue(plain)
        wait_for(lambda: _queued(queues.queue_for("default")) == 1, what="the default run on its queue")
    finally:
        stop(worker)
    assert _queued(queues.queue_for("bulk")) == 2
    assert set(Execution.objects.filter(pk__in=[e.pk for e in bulk_runs]).values_list("status", flat=True)) == {ExecutionStatus.QUEUED}
    assert _broker_lengths(client) == {"interactive": 0, "default": 1, "scheduled": 0, "bulk": 2}

    # A worker of the bulk kind (worker-bulk in deploy/compose.yaml) takes them.
    bulk_worker = start_worker(base, kinds=("bulk",), log="queues-bulk-worker.log")
    try:
        for run in bulk_runs:
            wait_for(lambda pk=run.pk: Execution.objects.get(pk=pk).status == ExecutionStatus.SUCCEEDED, what=f"bulk run {run.pk}")
        wait_for(lambda: _queued(queues.queue_for("bulk")) == 0, what="the bulk queue drained")
    finally:
        stop(bulk_worker)
    assert Execution.objects.get(pk=plain.pk).status == ExecutionStatus.QUEUED
