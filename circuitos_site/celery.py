"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""

import gc
import os

from celery import Celery, signals

from circuits.core import tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "circuitos_site.settings")

app = Celery("circuitos")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The engine's tasks live in a domain package of the circuits app, not at its top.
app.autodiscover_tasks(["circuits.automation"])


@signals.celeryd_after_setup.connect
def _consume_configured_kinds(sender, instance, **kwargs) -> None:
    # Sent before `-Q` is applied: a worker started with `-Q` consumes exactly those queues,
    # any other the queues of the kinds in CELERY_WORKER_KINDS (circuits/core/queues.py).
    from django.conf import settings

    from circuits.core.queues import queue_for

    instance.app.amqp.queues.select([queue_for(kind) for kind in settings.CELERY_WORKER_KINDS])
    # Tracing starts after any fork: here for a pool that never forks (threads, solo), in each
    # child (worker_process_init) for prefork (circuits/core/tracing.py).
    from celery.concurrency import get_implementation
    from celery.concurrency.prefork import TaskPool as Prefork

    forks = issubclass(get_implementation(instance.pool_cls), Prefork)
    if not forks:
        tracing.configure("circuitos-worker")
    if settings.WORKER_METRICS_PORT:
        # Started in the main process: before the pool forks, so a missing multiprocess folder
        # stops the worker at once instead of serving counts that never move.
        from django.core.exceptions import ImproperlyConfigured

        from circuits.core.metrics import serve_worker_metrics

        try:
            serve_worker_metrics(settings.WORKER_METRICS_PORT, settings.WORKER_METRICS_ADDR, forks=forks)
        except (ImproperlyConfigured, OSError) as exc:  # Celery logs and ignores a receiver's exception: exit instead
            raise SystemExit(f"circuitos worker: {exc}") from exc


@signals.worker_process_init.connect
def _trace_pool_child(**kwargs) -> None:
    tracing.configure("circuitos-worker")


@signals.worker_process_shutdown.connect
def _flush_pool_child(**kwargs) -> None:
    tracing.shutdown()


@signals.beat_init.connect
def _trace_beat(**kwargs) -> None:
    tracing.configure("circuitos-beat")


@signals.worker_init.connect
def _freeze_before_forking(**kwargs) -> None:
    # The worker has loaded its tasks and is about to fork its pool's children (and beat with
    # -B): objects moved to the permanent generation are never touched by the collector again,
    # so the children keep sharing those pages instead of copying them at their first collection.
    gc.collect()
    gc.freeze()
