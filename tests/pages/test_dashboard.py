"""Dashboard and overview: the figures come from the metrics service and the charts from our static files."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.utils import timezone

from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.services.metrics import circuit_metrics
from tests.pages.helpers import execution, other_tenant_execution

pytestmark = pytest.mark.django_db
URL = "/t/acme/dashboard/"


def chart_data(response) -> dict:
    page = response.content.decode()
    start = page.index('<script id="dashboard-data" type="application/json">') + len('<script id="dashboard-data" type="application/json">')
    return json.loads(page[start : page.index("</script>", start)])


def test_the_dashboard_shows_the_metrics_services_numbers(client_for, world):
    for _ in range(3):
        execution(world, ExecutionStatus.SUCCEEDED)
    execution(world, ExecutionStatus.FAILED)
    execution(world, ExecutionStatus.SUCCEEDED, is_test=True)  # test runs are not counted
    other_tenant_execution(world)
    response = client_for(world.viewer).get(URL)
    ctx = response.context
    assert ctx["total"] == 4 and ctx["totals"]["failed"] == 1 and ctx["success_pct"] == 75.0
    assert [(c["circuit"], c["total"]) for c in ctx["per_circuit"]] == [(m["circuit"], m["total"]) for m in circuit_metrics(world.tenant, hours=24)]
    assert ctx["per_circuit"][0]["p50_display"] == "2.0 s"
    assert [s["node"] for s in ctx["slowest"]][:1] == ["b"]
    assert [f.pk for f in ctx["failures"]] == [Execution.objects.get(tenant=world.tenant, status="failed").pk]


def test_the_hourly_series_has_every_hour_with_zeros_and_stacks_by_status(client_for, world):
    execution(world, ExecutionStatus.SUCCEEDED)
    e = execution(world, ExecutionStatus.FAILED)
    Execution.objects.filter(pk=e.pk).update(created_at=timezone.now() - timedelta(hours=5))
    data = chart_data(client_for(world.viewer).get(URL))
    assert data["statuses"] == ["queued", "running", "waiting", "succeeded", "failed", "cancelled"]
    assert 24 <= len(data["series"]) <= 25
    assert sum(row["succeeded"] for row in data["series"]) == 1 and data["series"][-1]["succeeded"] == 1
    assert sum(row["failed"] for row in data["series"]) == 1 and data["series"][-6]["failed"] == 1
    assert all(row[s] == 0 for row in data["series"][:-6] for s in data["statuses"])


def test_longer_ranges_use_daily_buckets(client_for, world):
    e = execution(world)
    Execution.objects.filter(pk=e.pk).update(created_at=timezone.now() - timedelta(days=3))
    client = client_for(world.viewer)
    week = chart_data(client.get(URL, {"range": "7d"}))
    assert len(week["series"]) in (7, 8) and sum(r["succeeded"] for r in week["series"]) == 1
    assert chart_data(client.get(URL, {"range": "24h"}))["series"][-1]["succeeded"] == 0
    assert len(chart_data(client.get(URL, {"range": "30d"}))["series"]) in (30, 31)


def test_an_unknown_range_is_a_400_that_names_it(client_for, world):
    response = client_for(world.viewer).get(URL, {"range": "forever"})
    assert response.status_code == 400 and "range: unknown time range" in response.content.decode()


def test_charts_load_chart_js_from_our_own_static_files(client_for, world):
    page = client_for(world.viewer).get(URL).content.decode()
    assert 'src="/static/vendor/chart.js/chart.umd.min.js"' in page and "pages/dashboard.js" in page
    assert finders.find("vendor/chart.js/chart.umd.min.js"), "run `make npm-deps` (chart.js is pinned in package.json)"
    assert 'id="chart-volume" role="img"' in page and "Show as table" in page


def test_the_range_links_swap_only_the_body_over_htmx(client_for, world):
    body = client_for(world.viewer).get(URL, {"range": "7d"}, HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith('<div id="dashboard-body" data-range="7d"') and "<html" not in body


def test_the_dashboard_query_count_is_fixed(client_for, world, django_assert_max_num_queries):
    for _ in range(30):
        execution(world, ExecutionStatus.FAILED)
    client = client_for(world.viewer)
    client.get(URL)
    with django_assert_max_num_queries(14):
        client.get(URL)


def test_the_overview_sums_up_the_last_day_and_what_needs_attention(client_for, world):
    execution(world, ExecutionStatus.SUCCEEDED)
    failed = execution(world, ExecutionStatus.FAILED)
    execution(world, ExecutionStatus.RUNNING)
    other_tenant_execution(world)
    response = client_for(world.viewer).get("/t/acme/")
    ctx = response.context
    assert ctx["day_total"] == 3 and ctx["day_failed"] == 1 and ctx["day_success_pct"] == 50.0 and ctx["active_count"] == 1
    assert [e.pk for e in ctx["failures"]] == [failed.pk] and len(ctx["recent"]) == 3
    page = response.content.decode()
    assert f'href="/t/acme/executions/{failed.pk}/"' in page and "boom at b" in page


def test_the_navigation_links_every_section(client_for, world):
    page = client_for(world.viewer).get("/t/acme/").content.decode()
    for label, href in (
        ("Overview", "/t/acme/"),
        ("Circuits", "/t/acme/circuits/"),
        ("Executions", "/t/acme/executions/"),
        ("Records", "/t/acme/records/"),
        ("Events", "/t/acme/events/"),
        ("Dashboard", "/t/acme/dashboard/"),
        ("Settings", "/t/acme/settings/members/"),
    ):
        assert f'href="{href}"' in page and f">{label}</a>" in page
