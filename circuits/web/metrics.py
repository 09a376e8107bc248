"""GET /metrics: Prometheus text format for the whole installation (not per tenant).

The counters and histograms of circuits/core/metrics.py — summed over every process's files in
multiprocess mode — plus gauges read from the database at scrape time, so they are true
whichever process asks and however many workers there are: queue depth and the age of the
oldest queued execution, running and stuck executions (a lease that lapsed), parked ones that
are due, the broker's queue length, and the database's connections by state.

Only for a scraper: the bearer token METRICS_TOKEN, or a peer address inside
METRICS_ALLOW_NETWORKS (loopback by default); anyone else gets 403.
"""

from __future__ import annotations

import hmac
import logging
from ipaddress import ip_address

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.db.models.functions import Now
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from actions.net import OUTBOUND_HEADER
from circuits.automation.models.execution import Execution, ExecutionStatus

log = logging.getLogger(__name__)

ACTIVE_STATUSES = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)


def scraper_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if OUTBOUND_HEADER in request.headers:
        return False  # a circuit's own HTTP step, however near its network: only the token lets it in
    try:
        peer = ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in network for network in settings.METRICS_ALLOW_NETWORKS)


class DatabaseCollector:
    """Gauges computed from the database on each scrape (one query per family, no tenant labels)."""

    def collect(self):
        yield from self._executions()
        yield from self._connections()
        yield from self._broker()

    def _executions(self):
        rows = Execution.objects.filter(status__in=ACTIVE_STATUSES).order_by().values("status").annotate(n=Count("pk"))
        by_status = {row["status"]: row["n"] for row in rows}
        active = GaugeMetricFamily("circuitos_executions_active", "Executions not finished yet, by status.", labels=["status"])
        for status in ACTIVE_STATUSES:
            active.add_metric([status], by_status.get(status, 0))
        yield active
        oldest = Execution.objects.filter(status=ExecutionStatus.QUEUED).aggregate(at=Min("created_at"))["at"]
        yield GaugeMetricFamily(
            "circuitos_execution_queue_oldest_age_seconds",
            "Age of the oldest execution waiting for a worker (0 when none waits).",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )
        yield GaugeMetricFamily(
            "circuitos_executions_stuck",
            "Running executions whose lease lapsed: their runner died and no worker has taken them over yet.",
            value=Execution.objects.filter(status=ExecutionStatus.RUNNING, lease_until__lt=Now()).count(),
        )
        yield GaugeMetricFamily(
            "circuitos_executions_due",
            "Parked executions whose wait is over and which no worker has resumed yet.",
            value=Execution.objects.filter(status=ExecutionStatus.WAITING, wait_until__lte=timezone.now()).count(),
        )

    def _connections(self):
        family = GaugeMetricFamily("circuitos_db_connections", "Connections to this database, by state (PostgreSQL).", labels=["state"])
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1 ORDER BY 1")
                for state, count in cursor.fetchall():
                    family.add_metric([state], count)
                cursor.execute("SHOW max_connections")
                limit = int(cursor.fetchone()[0])
            yield family
            yield GaugeMetricFamily("circuitos_db_connections_max", "The database server's max_connections.", value=limit)
        else:
            yield family

    def _broker(self):
        family = GaugeMetricFamily("circuitos_broker_queue_length", "Tasks waiting in the Celery broker queue (Redis).", labels=["queue"])
        broker = settings.CELERY_BROKER_URL
        if broker.startswith(("redis://", "rediss://")):
            import redis  # only with a Redis broker

            from circuitos_site.cache import shared_client

            queue = settings.CELERY_TASK_DEFAULT_QUEUE
            try:
                # The process's shared pool (the cache's, when the broker is the same Redis): no connection per scrape.
                family.add_metric([queue], shared_client(broker).llen(queue))
            except redis.RedisError:
                log.warning("metrics: the broker queue length could not be read", exc_info=True)
        yield family


def exposition() -> bytes:
    """The whole text: the processes' series (every process's files in multiprocess mode) and the database's gauges."""
    if settings.PROMETHEUS_MULTIPROC_DIR is not None:
        processes = CollectorRegistry()
        MultiProcessCollector(processes, path=str(settings.PROMETHEUS_MULTIPROC_DIR))
    else:
        processes = REGISTRY
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    return generate_latest(processes) + generate_latest(database)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not scraper_allowed(request):
        return HttpResponse(
            "Forbidden: send Authorization: Bearer <METRICS_TOKEN>, or scrape from a network in METRICS_ALLOW_NETWORKS.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
