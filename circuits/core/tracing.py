"""Optional OpenTelemetry tracing: one trace from a request through its Celery task to every step.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: then nothing here imports the SDK, opens a
connection or starts a thread, and `span()` costs one check. With it set, `configure()` —
called once per process *after* any fork (gunicorn's post_fork, Celery's worker_process_init,
or at start for processes that never fork: `manage.py serve`, a threads-pool worker, beat) —
installs a tracer provider exporting in batches over OTLP/HTTP (protobuf) to
`$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces` (the exporter reads the standard OTEL_* variables:
headers, timeout, compression) and instruments Celery, which carries the trace context in
each task message's headers (W3C traceparent) and opens a span per publish and per task run.

Spans carry ids only (tenant and circuit slugs, execution, step and trigger ids, the request
id): the attributes come from an allow-list (`ATTRIBUTES`), never from payloads, configs or
paths (a webhook's path is its secret).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

# Context keys (circuits/core/logs.py binds the same names) → span attribute names.
ATTRIBUTES = {
    "request_id": "circuitos.request_id",
    "route": "http.route",
    "tenant": "circuitos.tenant",
    "circuit": "circuitos.circuit",
    "trigger_id": "circuitos.trigger_id",
    "execution_id": "circuitos.execution_id",
    "step": "circuitos.step",
    "step_id": "circuitos.step_id",
    "action": "circuitos.action",
}
TRACER_NAME = "circuitos"

_configured_pid: int | None = None


def endpoint() -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()


def enabled() -> bool:
    """Tracing is on in this process (configured here, after any fork)."""
    return _configured_pid == os.getpid()


def configure(service: str) -> bool:
    """Start exporting this process's spans as `service` when an endpoint is set; once per process."""
    global _configured_pid
    if not endpoint():
        return False
    if enabled():
        return True
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service, "process.pid": os.getpid()})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    CeleryInstrumentor().instrument(tracer_provider=provider)
    _configured_pid = os.getpid()
    return True


def shutdown() -> None:
    """Send what is buffered (a process about to exit)."""
    if enabled():
        from opentelemetry import trace

        provider = trace.get_tracer_provider()
        if hasattr(provider, "shutdown"):
            provider.shutdown()


def _attributes(values: Mapping[str, Any]) -> dict[str, str | int]:
    return {ATTRIBUTES[k]: v if isinstance(v, int) else str(v) for k, v in values.items() if k in ATTRIBUTES and v is not None}


def annotate(**values: Any) -> None:
    """Put the allow-listed ids among `values` on the current span (logs.bind calls this)."""
    if not enabled():
        return
    from opentelemetry import trace

    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(_attributes(values))


@contextmanager
def span(name: str, **values: Any) -> Iterator[None]:
    """A child span of the current one (an engine step); nothing at all when tracing is off."""
    if not enabled():
        yield
        return
    from opentelemetry import trace

    with trace.get_tracer(TRACER_NAME).start_as_current_span(name, attributes=_attributes(values)):
        yield


@contextmanager
def server_span(method: str, headers: Mapping[str, str]) -> Iterator[Any]:
    """The span of one HTTP request, continuing the caller's trace when it sent a traceparent.

    Named by method until the route is known (`name_request` renames it by URL pattern name:
    never by path). Yields the span (None when tracing is off).
    """
    if not enabled():
        yield None
        return
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    carrier = {k.lower(): v for k, v in headers.items()}
    with trace.get_tracer(TRACER_NAME).start_as_current_span(
        method, context=extract(carrier), kind=trace.SpanKind.SERVER, attributes={"http.request.method": method}
    ) as current:
        yield current


def name_request(current: Any, method: str, route: str, status: int) -> None:
    if current is not None:
        current.update_name(f"{method} {route}")
        current.set_attributes({"http.route": route, "http.response.status_code": status})
        if status >= 500:
            from opentelemetry.trace import Status, StatusCode

            current.set_status(Status(StatusCode.ERROR))
