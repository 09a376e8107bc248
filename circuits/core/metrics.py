"""Prometheus series that processes count as things happen (prometheus-client).

Counted where it happens — the web process (requests, webhook refusals, live-event drops) and
the Celery workers (executions, steps, lease takeovers). With PROMETHEUS_MULTIPROC_DIR set,
prometheus-client keeps each process's values in memory-mapped files in that folder and
`GET /metrics` sums every process's files (web processes and workers on one machine share the
folder); without it (a laptop: `manage.py serve` with the embedded worker) they are one
process's own. What the database knows — queue depth and age, stuck executions, connections —
is not counted here but read at scrape time (circuits/web/metrics.py), so it is right however
many processes there are.

Label values are bounded: routes are URL pattern names (never paths), actions come from the
registry, statuses are enums, and circuits are capped per process (`bounded`), past which a
new circuit counts as "other".
"""

from __future__ import annotations

import threading

from django.conf import settings
from prometheus_client import Counter, Histogram

OTHER = "other"

REQUESTS = Counter("circuitos_http_requests", "HTTP requests answered, by URL pattern name.", ["route", "method", "status"])
REQUEST_SECONDS = Histogram(
    "circuitos_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL pattern name.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EXECUTIONS_STARTED = Counter("circuitos_executions_started", "Executions a runner took (first start, resume or takeover).", ["circuit", "how"])
EXECUTIONS_FINISHED = Counter("circuitos_executions_finished", "Executions that ended, by status.", ["circuit", "status"])
STEP_SECONDS = Histogram(
    "circuitos_step_duration_seconds",
    "Time one step took, by action and outcome.",
    ["action", "status"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300),
)
LEASE_TAKEOVERS = Counter("circuitos_lease_takeovers", "Running executions whose lease lapsed and another runner took over.")
WEBHOOK_REJECTIONS = Counter("circuitos_webhook_rejections", "Inbound webhook deliveries refused, by reason.", ["reason"])
# Only with METRICS_DB_STATEMENTS on (the benchmarks turn it on: SQL statements per request).
DB_STATEMENTS = Counter("circuitos_db_statements", "SQL statements sent to the database.")
LIVE_EVENT_DROPS = Counter("circuitos_live_events_dropped", "Live updates that could not be sent to the channel layer.", ["reason"])

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_seen_circuits: set[str] = set()
_seen_lock = threading.Lock()


def method_label(method: str | None) -> str:
    return method if method in _METHODS else OTHER


def bounded_circuit(tenant_slug: str, circuit_slug: str) -> str:
    """`tenant/circuit`, or "other" once this process has labelled METRICS_MAX_CIRCUITS circuits."""
    value = f"{tenant_slug}/{circuit_slug}"
    with _seen_lock:
        if value in _seen_circuits:
            return value
        if len(_seen_circuits) >= settings.METRICS_MAX_CIRCUITS:
            return OTHER
        _seen_circuits.add(value)
        return value


def circuit_label(execution) -> str:
    return bounded_circuit(execution.tenant.slug, execution.circuit.slug)


def execution_started(execution, previous_status: str) -> None:
    how = {"queued": "start", "waiting": "resume", "running": "takeover"}.get(previous_status, OTHER)
    EXECUTIONS_STARTED.labels(circuit=circuit_label(execution), how=how).inc()
    if how == "takeover":
        LEASE_TAKEOVERS.inc()


def execution_finished(execution, status: str) -> None:
    EXECUTIONS_FINISHED.labels(circuit=circuit_label(execution), status=status).inc()


def step_finished(action: str, status: str, duration_ms: float | None) -> None:
    if duration_ms is not None:
        STEP_SECONDS.labels(action=action, status=status).observe(max(duration_ms, 0.0) / 1000)


def webhook_rejected(reason: str) -> None:
    WEBHOOK_REJECTIONS.labels(reason=reason).inc()


def live_event_dropped(reason: str) -> None:
    LIVE_EVENT_DROPS.labels(reason=reason).inc()


def serve_worker_metrics(port: int, addr: str, *, forks: bool) -> None:
    """A Celery worker's own /metrics (prometheus-client's HTTP server on a daemon thread of
    the worker's main process): the series its runs count. `forks` (the prefork pool): the
    children's values reach the main process only through PROMETHEUS_MULTIPROC_DIR."""
    from django.core.exceptions import ImproperlyConfigured
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    if settings.PROMETHEUS_MULTIPROC_DIR is not None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(settings.PROMETHEUS_MULTIPROC_DIR))
    elif forks:
        raise ImproperlyConfigured(
            "WORKER_METRICS_PORT with the prefork pool needs PROMETHEUS_MULTIPROC_DIR (an empty folder of this worker's own): "
            "its child processes count the steps and executions"
        )
    else:
        registry = REGISTRY
    start_http_server(port, addr=addr, registry=registry)


def _count_statement(execute, sql, params, many, context):
    DB_STATEMENTS.inc()
    return execute(sql, params, many, context)


def count_db_statements(sender, connection, **kwargs) -> None:
    """`connection_created` receiver (METRICS_DB_STATEMENTS): count every statement of the connection."""
    if _count_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_statement)
