"""Dashboard: executions over time by status, success rates, durations, slow steps, failures.

All figures come from `circuits.automation.services.metrics` (the REST API uses the same functions),
so the dashboard and the API never disagree. Charts are drawn by Chart.js from our own
static files; every chart has a table with the same numbers for keyboard and screen-reader
users (and for anyone without JavaScript).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from circuits.automation.models.execution import ExecutionStatus
from circuits.automation.services import metrics
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.pages.common import format_ms

# ?range= → (hours, bucket, label)
RANGES: dict[str, tuple[int, str, str]] = {
    "24h": (24, "hour", "Last 24 hours"),
    "7d": (24 * 7, "day", "Last 7 days"),
    "30d": (24 * 30, "day", "Last 30 days"),
}
STATUSES = list(ExecutionStatus.values)


def _bucket_start(moment: datetime, bucket: str) -> datetime:
    moment = moment.astimezone(timezone.get_current_timezone())
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def filled_series(rows: list[dict], start: datetime, end: datetime, bucket: str) -> list[dict]:
    """Every bucket from start to end, with zeros where nothing ran (gaps would mislead the chart)."""
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    by_bucket = {datetime.fromisoformat(r["bucket"]).astimezone(timezone.get_current_timezone()): r for r in rows}
    out = []
    cursor = _bucket_start(start, bucket)
    last = _bucket_start(end, bucket)
    while cursor <= last:
        row = by_bucket.get(cursor, {})
        if bucket == "day":
            label = cursor.strftime("%b %d")
        elif not out or cursor.hour == 0:
            label = cursor.strftime("%b %d %H:%M")  # the date where it changes, so 16:00 is never ambiguous
        else:
            label = cursor.strftime("%H:%M")
        out.append({"bucket": cursor.isoformat(), "label": label, **{s: row.get(s, 0) for s in STATUSES}})
        cursor += step
    return out


def dashboard_data(tenant, range_key: str) -> dict:
    hours, bucket, label = RANGES[range_key]
    now = timezone.now()
    start = metrics.window_start(tenant, hours) or now - timedelta(hours=hours)
    per_circuit = metrics.circuit_metrics(tenant, hours=hours)
    totals = {s: sum(c["by_status"][s] for c in per_circuit) for s in STATUSES}
    finished = totals[ExecutionStatus.SUCCEEDED] + totals[ExecutionStatus.FAILED]
    for c in per_circuit:
        c["p50_display"] = format_ms(c["p50_ms"])
        c["p95_display"] = format_ms(c["p95_ms"])
        c["success_pct"] = None if c["success_rate"] is None else round(c["success_rate"] * 100, 1)
    slowest = metrics.slowest_steps(tenant, hours=hours)
    for s in slowest:
        s["avg_display"] = format_ms(s["avg_ms"])
        s["max_display"] = format_ms(s["max_ms"])
    failures = metrics.recent_failures(tenant)
    for f in failures:
        f.error_message = (f.error or {}).get("message", "") if isinstance(f.error, dict) else ""
    return {
        "range": range_key,
        "range_label": label,
        "ranges": [(key, value[2]) for key, value in RANGES.items()],
        "totals": totals,
        "total": sum(totals.values()),
        "success_pct": round(totals[ExecutionStatus.SUCCEEDED] / finished * 100, 1) if finished else None,
        "per_circuit": per_circuit,
        "slowest": slowest,
        "failures": failures,
        "metrics_since": tenant.metrics_since,
        "chart_data": {
            "statuses": STATUSES,
            "series": filled_series(metrics.timeseries(tenant, hours=hours, bucket=bucket), start, now, bucket),
            "circuits": [
                {"circuit": c["circuit"], "name": c["name"], "success_rate": c["success_rate"], "p50_ms": c["p50_ms"], "p95_ms": c["p95_ms"]}
                for c in per_circuit
            ],
            "slowest": [{"label": f"{s['circuit']} · {s['node']}", "avg_ms": s["avg_ms"], "max_ms": s["max_ms"]} for s in slowest],
        },
    }


class DashboardView(TenantView):
    def get(self, request):
        range_key = request.GET.get("range", "24h")
        status = 200
        if range_key not in RANGES:
            range_key, status = "24h", 400
        context = dashboard_data(self.tenant, range_key)
        context["bad_range"] = status == 400
        return render_page(request, "pages/dashboard.html", context, partial="pages/_dashboard_body.html", status=status)
