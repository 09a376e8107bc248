"""Execution metrics per tenant: counts by status, success rate, p50/p95, time series.

Shared by the REST API (`/api/v1/metrics`) and the dashboard, so both show one truth.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Avg, Count, Exists, Max, OuterRef, QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.tenancy.models.tenants import Tenant
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def window_start(tenant: Tenant, hours: float | None) -> datetime | None:
    starts = [s for s in (tenant.metrics_since, timezone.now() - timedelta(hours=hours) if hours else None) if s]
    return max(starts) if starts else None


def _executions(tenant: Tenant, since: datetime | None, circuit_ids=None):
    qs = Execution.objects.for_tenant(tenant).filter(is_test=False)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if circuit_ids is not None:
        qs = qs.filter(circuit_id__in=circuit_ids)
    return qs


def circuit_metrics(tenant: Tenant, *, hours: float | None = 24, circuit_ids=None) -> list[dict]:
    since = window_start(tenant, hours)
    qs = _executions(tenant, since, circuit_ids)
    counts: dict[int, dict] = defaultdict(lambda: dict.fromkeys(ExecutionStatus.values, 0))
    names: dict[int, tuple[str, str]] = {}
    for row in qs.values("circuit_id", "circuit__slug", "circuit__name", "status").annotate(n=Count("pk")):
        counts[row["circuit_id"]][row["status"]] = row["n"]
        names[row["circuit_id"]] = (row["circuit__slug"], row["circuit__name"])
    durations: dict[int, list[float]] = defaultdict(list)
    for circuit_id, duration in qs.filter(duration_ms__isnull=False, status=ExecutionStatus.SUCCEEDED).values_list("circuit_id", "duration_ms"):
        durations[circuit_id].append(duration)
    result = []
    for circuit_id, by_status in counts.items():
        finished = by_status[ExecutionStatus.SUCCEEDED] + by_status[ExecutionStatus.FAILED]
        values = sorted(durations[circuit_id])
        result.append(
            {
                "circuit": names[circuit_id][0],
                "name": names[circuit_id][1],
                "total": sum(by_status.values()),
                "by_status": by_status,
                "success_rate": round(by_status[ExecutionStatus.SUCCEEDED] / finished, 4) if finished else None,
                "p50_ms": percentile(values, 50),
                "p95_ms": percentile(values, 95),
            }
        )
    return sorted(result, key=lambda r: r["circuit"])


def timeseries(tenant: Tenant, *, hours: float = 24, bucket: str = "hour") -> list[dict]:
    trunc = TruncHour if bucket == "hour" else TruncDay
    since = window_start(tenant, hours)
    rows = _executions(tenant, since).annotate(bucket=trunc("created_at")).values("bucket", "status").annotate(n=Count("pk")).order_by("bucket")
    series: dict[datetime, dict] = {}
    for row in rows:
        series.setdefault(row["bucket"], dict.fromkeys(ExecutionStatus.values, 0))[row["status"]] = row["n"]
    return [{"bucket": b.isoformat(), **v} for b, v in sorted(series.items())]


def slowest_steps(tenant: Tenant, *, hours: float = 24, limit: int = 10) -> list[dict]:
    since = window_start(tenant, hours)
    qs = StepRun.objects.filter(execution__tenant=tenant, execution__is_test=False, duration_ms__isnull=False)
    if since is not None:
        qs = qs.filter(execution__created_at__gte=since)
    rows = (
        qs.values("execution__circuit__slug", "node_key", "action")
        .annotate(avg_ms=Avg("duration_ms"), max_ms=Max("duration_ms"), runs=Count("pk"))
        .order_by("-avg_ms")[:limit]
    )
    return [
        {
            "circuit": r["execution__circuit__slug"],
            "node": r["node_key"],
            "action": r["action"],
            "avg_ms": round(r["avg_ms"], 2),
            "max_ms": r["max_ms"],
            "runs": r["runs"],
        }
        for r in rows
    ]


def open_failures(executions: QuerySet[Execution]) -> QuerySet[Execution]:
    """Failed real executions nobody has dealt with yet: a failure whose retry or re-run is going
    or done (anything but cancelled) is superseded by it, and a failing retry shows itself.
    Test runs are the builder's business, as in every other figure here."""
    superseded = Execution.objects.filter(rerun_of=OuterRef("pk")).exclude(status=ExecutionStatus.CANCELLED)
    return executions.filter(status=ExecutionStatus.FAILED, is_test=False).exclude(Exists(superseded))


def recent_failures(tenant: Tenant, *, limit: int = 10) -> list[Execution]:
    """The newest failed real executions (test runs are not counted, so not listed either)."""
    failed = Execution.objects.for_tenant(tenant).filter(status=ExecutionStatus.FAILED, is_test=False)
    return list(failed.select_related("circuit").order_by("-created_at")[:limit])


class ResetMetrics(Service):
    """Start counting metrics from now on (executions themselves are kept)."""

    audit_action = "metrics.reset"
    perm = Perm.MANAGE_SETTINGS
    denied_message = "Only owners and admins can reset metrics."

    def perform(self) -> Tenant:
        self.tenant.metrics_since = timezone.now()
        self.tenant.save(update_fields=["metrics_since"])
        return self.tenant
