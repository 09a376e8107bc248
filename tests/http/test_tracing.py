"""OpenTelemetry tracing (circuits/core/tracing.py): one trace from a webhook's request through
its Celery task to every step, exported over OTLP/HTTP; and off, no span and no connection.

The collector is this test's own: an http.server on a loopback port decoding each export
with opentelemetry-proto. The site is the production shape (`scripts/run.sh`: gunicorn's forked
uvicorn worker, a prefork Celery worker), so tracing is proven to start after the forks.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.core import tracing
from tests.engine.helpers import build, chain, node
from tests.engine.workers import wait_for
from tests.http.conftest import ROOT, launch_server, require_production_shape, stop_server

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_VALUE = "tracing-secret-never-exported-5c1e"


class Collector(ThreadingHTTPServer):
    """Spans received: one dict per span, its attributes and its service (the process kind)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Export)
        self.spans: list[dict] = []
        self.raw = b""
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Export(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:  # http.server's name for the handler of POST
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value or a.value.int_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: a.value.string_value or a.value.int_value for a in span.attributes}
                    found.append(
                        {
                            "name": span.name,
                            "trace": span.trace_id.hex(),
                            "id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "service": resource.get("service.name"),
                            "pid": resource.get("process.pid"),
                            "attributes": attributes,
                        }
                    )
        with self.server.lock:
            self.server.spans.extend(found)
            self.server.raw += body
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def traced_site(django_db_setup, django_db_blocker, tmp_path, collector):
    require_production_shape()
    with django_db_blocker.unblock():
        server = launch_server(
            "traced",
            tmp_path,
            {
                "DEBUG": "0",
                "WEB_CONCURRENCY": "1",
                "CELERY_CONCURRENCY": "1",
                "CELERY_BEAT": "off",
                "STATIC_ROOT": str(tmp_path / "static"),
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
                "OTEL_BSP_SCHEDULE_DELAY": "200",  # export within a fraction of a second
            },
            command=["bash", str(ROOT / "scripts" / "run.sh")],
        )
    yield server
    stop_server(server)


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:  # the loopback test server
        return json.loads(response.read())


def test_one_trace_links_a_webhooks_request_its_task_and_every_step_with_ids_and_no_secret(traced_site, collector, world):
    circuit = build(
        world,
        "traced-hook",
        [node("first", "util.transform", {"template": "{{ trigger.body.n + 1 }}"}), node("second", "notify.inapp", {"title": "got {{ steps.first.output }}"})],
        chain("first", "second"),
        triggers=[{"type": "webhook", "config": {}}],
    )
    token = circuit.triggers.get().webhook_token
    accepted = _post(f"{traced_site.url}/hooks/{token}", {"n": 41, "password": SECRET_VALUE})
    execution_id = accepted["execution_id"]
    wait_for(lambda: Execution.objects.get(pk=execution_id).status == ExecutionStatus.SUCCEEDED, timeout=60, what="the worker to run it")

    def the_trace():
        with collector.lock:
            spans = list(collector.spans)
        names = {s["name"] for s in spans}
        # The task's span ends (and is exported) after its steps', the request's maybe later still.
        return spans if {"POST inbound_webhook", "run/circuits.automation.tasks.run_execution", "step first", "step second"} <= names else None

    spans = wait_for(the_trace, timeout=30, what=lambda: f"the request's, task's and steps' spans: {[s['name'] for s in collector.spans]}\n{traced_site.log()}")
    by_id = {s["id"]: s for s in spans}
    request = next(s for s in spans if s["name"] == "POST inbound_webhook")
    task = next(s for s in spans if s["name"] == "run/circuits.automation.tasks.run_execution")
    steps = {s["name"]: s for s in spans if s["name"].startswith("step ")}
    # One trace: the request is its root, the task descends from it through the message headers,
    # and each step is a child of the task.
    assert request["parent"] == ""
    assert {task["trace"], *(s["trace"] for s in steps.values())} == {request["trace"]}
    ancestor, hops = by_id.get(task["parent"]), 0
    while ancestor is not None and ancestor["id"] != request["id"] and hops < 5:
        ancestor, hops = by_id.get(ancestor["parent"]), hops + 1
    assert ancestor is request, "the task span does not descend from the request's"
    assert all(s["parent"] == task["id"] for s in steps.values())
    # Three processes, each tracing after its fork: the web worker, the Celery pool child.
    assert request["service"] == "circuitos-web" and task["service"] == "circuitos-worker"
    assert request["pid"] != task["pid"] and request["pid"] != traced_site.process.pid
    # Ids as attributes.
    assert request["attributes"]["circuitos.tenant"] == "acme" and request["attributes"]["circuitos.circuit"] == "traced-hook"
    assert request["attributes"]["circuitos.execution_id"] == execution_id and request["attributes"]["http.response.status_code"] == 202
    assert task["attributes"]["circuitos.execution_id"] == execution_id and task["attributes"]["circuitos.tenant"] == "acme"
    assert steps["step second"]["attributes"]["circuitos.action"] == "notify.inapp"
    assert steps["step second"]["attributes"]["circuitos.step_id"] > 0
    # Never a secret: not the webhook's token (its path), nor the payload's values.
    for secret in (token.encode(), SECRET_VALUE.encode()):
        assert secret not in collector.raw


def test_tracing_is_off_without_an_endpoint(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert tracing.configure("circuitos-web") is False
    assert not tracing.enabled()
    with tracing.span("step x", step="x") as nothing:
        assert nothing is None
    # A request through the middleware opens no span and needs no collector.
    assert Client().get("/health").status_code == 200
    assert not tracing.enabled()
