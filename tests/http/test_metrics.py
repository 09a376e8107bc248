"""GET /metrics: Prometheus text for operators, only for a scraper, with the listed series.

Counted series come from the processes that did the work (a real Celery worker's are read
back through prometheus-client's multiprocess files), database gauges are read at scrape time,
and labels stay bounded: routes are URL pattern names, never paths.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from circuits.automation.dispatch import claim, create_execution, enqueue
from circuits.automation.engine.runner import run_now
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.core import metrics
from tests.engine.helpers import build, chain, node
from tests.engine.workers import new_queue, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis
from tests.foundation.test_settings import run_settings

TOKEN = "metrics-token-for-the-tests-0123456789"


def scrape(client: Client | None = None, **headers) -> dict[str, list]:
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=")
    return {family.name: family.samples for family in text_string_to_metric_families(response.content.decode())}


def value(families: dict[str, list], name: str, **labels) -> float:
    """The sample `name` (a family's sample, e.g. circuitos_executions_finished_total) with `labels`; 0 when absent."""
    for samples in families.values():
        for sample in samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_a_scraper_needs_the_token_or_an_allowed_network(settings, db):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOW_NETWORKS = [ip_network("10.0.0.0/8")]
    outside = Client(REMOTE_ADDR="203.0.113.9")
    refused = outside.get("/metrics")
    assert refused.status_code == 403 and b"METRICS_TOKEN" in refused.content
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token-wrong-token-wrong").status_code == 403
    assert outside.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert Client(REMOTE_ADDR="10.20.30.40").get("/metrics").status_code == 200
    # The loopback is not let in once the allow-list is set to something else.
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 24 characters"),
        ({"METRICS_ALLOW_NETWORKS": "10.0.0.0/8,not-a-network"}, "METRICS_ALLOW_NETWORKS: 'not-a-network' is not an IP network"),
        ({"PROMETHEUS_MULTIPROC_DIR": "/dev/null/metrics"}, "PROMETHEUS_MULTIPROC_DIR='/dev/null/metrics' must be a directory this process can create"),
    ],
)
def test_bad_metrics_settings_stop_the_site_naming_the_variable(env, message):
    result = run_settings({"DEBUG": "1", **env})
    assert result.returncode != 0 and message in result.stderr, result.stderr[-2000:]


def test_metrics_answer_the_listed_series_with_bounded_labels(world, client_for, django_capture_on_commit_callbacks):
    circuit = build(world, "counted", [node("a", "util.transform", {"template": "{{ trigger.n }}"})], chain("a"))
    before = scrape()
    client_for(world.viewer).get("/t/acme/executions/")
    Client().post("/hooks/no-such-token", "{}", content_type="application/json")  # a refused delivery
    with django_capture_on_commit_callbacks(execute=True):
        run_now(create_execution(circuit, {"n": 1}))
    # One queued for a minute, one running on a lease that lapsed (its worker died).
    waiting = create_execution(circuit, {"n": 2})
    Execution.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(seconds=90))
    stuck = create_execution(circuit, {"n": 3})
    Execution.objects.filter(pk=stuck.pk).update(status=ExecutionStatus.RUNNING, started_at=timezone.now(), lease_until=timezone.now() - timedelta(minutes=5))

    after = scrape()
    assert {
        "circuitos_http_requests",
        "circuitos_http_request_duration_seconds",
        "circuitos_executions_started",
        "circuitos_executions_finished",
        "circuitos_step_duration_seconds",
        "circuitos_lease_takeovers",
        "circuitos_webhook_rejections",
        "circuitos_live_events_dropped",
        "circuitos_executions_active",
        "circuitos_execution_queue_oldest_age_seconds",
        "circuitos_executions_stuck",
        "circuitos_executions_due",
        "circuitos_db_connections",
        "circuitos_broker_queue_length",
    } <= set(after)

    def grew(name: str, **labels) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("circuitos_http_requests_total", route="execution_list", method="GET", status="200") == 1
    assert grew("circuitos_http_requests_total", route="inbound_webhook", method="POST", status="404") == 1
    assert not any("/" in s.labels.get("route", "") for s in after["circuitos_http_requests"])  # names, never paths
    assert grew("circuitos_webhook_rejections_total", reason="not_found") == 1
    assert grew("circuitos_executions_started_total", circuit="acme/counted", how="start") == 1
    assert grew("circuitos_executions_finished_total", circuit="acme/counted", status="succeeded") == 1
    assert grew("circuitos_step_duration_seconds_count", action="util.transform", status="succeeded") == 1
    assert value(after, "circuitos_executions_active", status="queued") == 1
    assert value(after, "circuitos_executions_active", status="running") == 1
    assert value(after, "circuitos_execution_queue_oldest_age_seconds") >= 90
    assert value(after, "circuitos_executions_stuck") == 1
    assert value(after, "circuitos_db_connections_max") > 0
    assert sum(s.value for s in after["circuitos_db_connections"] if s.name == "circuitos_db_connections") >= 1

    # The stuck one is taken over by the next runner: a lease takeover, and no longer stuck.
    assert claim(stuck.pk) is not None
    taken = scrape()
    assert value(taken, "circuitos_lease_takeovers_total") - value(after, "circuitos_lease_takeovers_total") == 1
    assert (
        value(taken, "circuitos_executions_started_total", circuit="acme/counted", how="takeover")
        - value(after, "circuitos_executions_started_total", circuit="acme/counted", how="takeover")
        == 1
    )
    assert value(taken, "circuitos_executions_stuck") == 0


def test_circuit_labels_are_capped_per_process(settings, monkeypatch):
    monkeypatch.setattr(metrics, "_seen_circuits", set())
    settings.METRICS_MAX_CIRCUITS = 2
    assert [metrics.bounded_circuit("acme", slug) for slug in ("a", "b", "c", "a")] == ["acme/a", "acme/b", "other", "acme/a"]


@needs_postgres()
@needs_redis()
@pytest.mark.django_db(transaction=True)
def test_a_workers_counts_reach_the_web_process_through_the_multiprocess_folder(world, settings, tmp_path):
    """A real Celery worker in multiprocess mode runs the execution; /metrics here sums its files."""
    queue = new_queue()
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    circuit = build(world, "in-worker", [node("a", "util.transform", {"template": "done"})], chain("a"))
    worker = start_worker(queue, env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, log="metrics-worker.log")
    try:
        execution = create_execution(circuit, {})
        enqueue(execution)
        wait_for(lambda: Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.SUCCEEDED).first(), what="the worker to run it")
    finally:
        stop(worker)
    settings.PROMETHEUS_MULTIPROC_DIR = tmp_path
    families = scrape()
    assert value(families, "circuitos_executions_finished_total", circuit="acme/in-worker", status="succeeded") == 1
    assert value(families, "circuitos_step_duration_seconds_count", action="util.transform", status="succeeded") == 1
    assert value(families, "circuitos_executions_active", status="queued") == 0  # database gauges still answer


# Every series the deploy/ files query must be one /metrics exposes (a renamed series would
# leave a dashboard panel empty and an alert silent, and nothing else would say so).
EXPOSED = {
    "circuitos_http_requests_total",
    "circuitos_http_request_duration_seconds_bucket",
    "circuitos_executions_started_total",
    "circuitos_executions_finished_total",
    "circuitos_step_duration_seconds_bucket",
    "circuitos_lease_takeovers_total",
    "circuitos_webhook_rejections_total",
    "circuitos_live_events_dropped_total",
    "circuitos_executions_active",
    "circuitos_execution_queue_oldest_age_seconds",
    "circuitos_executions_stuck",
    "circuitos_executions_due",
    "circuitos_db_connections",
    "circuitos_db_connections_max",
    "circuitos_broker_queue_length",
}
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def queried_series(expr: str) -> set[str]:
    return set(re.findall(r"\bcircuitos_[a-z_]+", expr))


def test_the_alert_rules_cover_stuck_executions_failure_rate_and_queue_age_with_exposed_series(db):
    rules = [rule for group in yaml.safe_load((DEPLOY / "prometheus-alerts.yaml").read_text())["groups"] for rule in group["rules"]]
    by_name = {rule["alert"]: rule for rule in rules}
    assert {"CircuitOSStuckExecutions", "CircuitOSHighFailureRate", "CircuitOSQueueAge"} <= set(by_name)
    for rule in rules:
        assert rule["expr"] and rule["labels"]["severity"] and rule["annotations"]["summary"], rule
        assert queried_series(rule["expr"]) and queried_series(rule["expr"]) <= EXPOSED, rule["alert"]
    # And the exposed set is what /metrics really answers (by family: counters' _total, histograms' _bucket).
    assert {re.sub(r"_(total|bucket)$", "", name) for name in EXPOSED} <= set(scrape())


def test_the_grafana_dashboard_queries_only_exposed_series(db):
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 12
    used = set().union(*(queried_series(e) for e in exprs))
    assert used <= EXPOSED, used - EXPOSED
    assert used == EXPOSED  # every series has a panel


def test_a_circuits_own_http_step_is_not_trusted_by_network_even_from_the_loopback(world, live_server, settings):
    """The demo allow-lists the app's own address: a step fetching /metrics from there comes from
    the loopback, yet must not read the installation's metrics (only the token lets it in)."""
    from urllib.parse import urlparse

    from actions.net import guarded_request

    settings.METRICS_TOKEN = TOKEN
    url = urlparse(live_server.url)
    world.tenant.outbound_allowlist = [f"{url.hostname}:{url.port}"]
    world.tenant.save(update_fields=["outbound_allowlist"])
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200  # an operator's scraper on the machine
    for headers in ({}, {"x-circuit-os-outbound": ""}, {"X-Circuit-OS-Outbound": "0"}):  # a step cannot drop or blank the mark
        assert guarded_request(world.tenant, "GET", f"{live_server.url}/metrics", headers=headers).status_code == 403
    with_token = guarded_request(world.tenant, "GET", f"{live_server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert with_token.status_code == 200
