"""Retention at 10 M step runs: prune rate, batch times, the history pages, and their query plans.

PostgreSQL only. `python -m bench retention` creates a throwaway database beside the
configured one (`<name>_retention_bench`), loads RETENTION_BENCH_EXECUTIONS executions
(1,000,000) of 10 steps each with generate_series — spread over 60 days, 1 in 1,000 still running
and holding on to its finished parent — then, with the platform default of 30 days:

- the history pages (executions list, one circuit's history, an execution's detail) through the
  Django test client, before and while pruning has work left;
- pruning: `prune_tenant` one batch at a time for RETENTION_BENCH_SECONDS (60) — step runs
  deleted per second and the p95 time of a batch (each batch is its own transaction: its time
  is the longest any lock it takes is held);
- EXPLAIN of the prune selection and the pages' queries: an index scan, or a sequential scan
  of a big table (a finding).

The database is dropped at the end; RETENTION_BENCH_KEEP=1 keeps it and re-uses it next time
(the load is skipped when it already holds the executions).
"""

from __future__ import annotations

import os
import re
import time
from urllib.parse import urlparse, urlunparse

from bench.common import bench_world, heading, percentile, report, timed

EXECUTIONS = int(os.environ.get("RETENTION_BENCH_EXECUTIONS", "1000000"))
STEPS_PER_EXECUTION = 10
CIRCUITS = 20
DAYS = 60
SECONDS = float(os.environ.get("RETENTION_BENCH_SECONDS", "60"))
KEEP = os.environ.get("RETENTION_BENCH_KEEP", "") in ("1", "true", "yes")
BATCH = 500
_throwaway: dict[str, str] = {}


def _admin_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    return urlunparse(parsed._replace(path="/postgres")), f"{name}_retention_bench"


def use_throwaway_database() -> None:
    """Point DATABASE_URL at the bench's own database (created if missing); before Django starts."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench retention needs PostgreSQL: set DATABASE_URL=postgres://…")
    admin, name = _admin_url(url)
    _throwaway.update(admin=admin, name=name)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not KEEP:
            conn.execute(f'DROP DATABASE "{name}"')
        if not exists or not KEEP:
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunparse(urlparse(url)._replace(path=f"/{name}"))


def _drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(_throwaway["admin"], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_throwaway["name"]}" WITH (FORCE)')


def _circuits(tenant, user) -> list[tuple[int, int]]:
    from circuits.automation.models.circuit import Circuit
    from circuits.automation.services.circuits import CreateCircuit
    from circuits.automation.services.versions import PublishDraft, SaveDraft

    pairs = []
    for i in range(CIRCUITS):
        slug = f"history-{i}"
        circuit = Circuit.objects.for_tenant(tenant).filter(slug=slug).first()
        if circuit is None:
            circuit = CreateCircuit(tenant, user, name=slug, slug=slug).execute()
            nodes = [{"key": f"n{k}", "action": "util.transform", "config": {"template": "x"}} for k in range(STEPS_PER_EXECUTION)]
            edges = [{"source": a, "target": b} for a, b in zip(["trigger"] + [n["key"] for n in nodes], [n["key"] for n in nodes], strict=False)]
            SaveDraft(tenant, user, circuit, {"nodes": nodes, "edges": edges}).execute()
            PublishDraft(tenant, user, circuit).execute()
        pairs.append((circuit.pk, circuit.versions.get(status="published").pk))
    return pairs


def _load(tenant, pairs: list[tuple[int, int]]) -> None:
    """EXECUTIONS executions and 10× as many step runs, straight in SQL (FK triggers off while loading)."""
    from django.db import connection

    from circuits.automation.models.execution import Execution

    loaded = Execution.objects.for_tenant(tenant).count()
    if loaded:
        print(f"re-using the {loaded:,} executions already loaded (RETENTION_BENCH_KEEP; earlier runs pruned some)")
        return
    circuit_ids = [c for c, _v in pairs]
    version_ids = [v for _c, v in pairs]
    started = time.perf_counter()
    chunk = 100_000
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK trigger per row while loading
        for first in range(1, EXECUTIONS + 1, chunk):
            last = min(EXECUTIONS, first + chunk - 1)
            cursor.execute(
                """
                INSERT INTO circuits_execution (tenant_id, circuit_id, version_id, trigger_type, chain_depth, status, is_test, input, vars,
                                          created_at, started_at, finished_at, duration_ms, step_count)
                SELECT %(tenant)s, (%(circuits)s::bigint[])[1 + g %% %(n)s], (%(versions)s::bigint[])[1 + g %% %(n)s], 'manual', 1,
                       CASE WHEN g %% 1000 = 0 THEN 'running' WHEN g %% 10 = 0 THEN 'failed' ELSE 'succeeded' END,
                       false, '{}'::jsonb, '{}'::jsonb,
                       at, at, CASE WHEN g %% 1000 = 0 THEN NULL ELSE at + interval '1 second' END, 1000, %(steps)s
                FROM (SELECT g, now() - (%(total)s - g) * (interval '1 second' * %(spread)s) AS at FROM generate_series(%(first)s, %(last)s) g) s
                """,
                {
                    "tenant": tenant.pk,
                    "circuits": circuit_ids,
                    "versions": version_ids,
                    "n": len(pairs),
                    "steps": STEPS_PER_EXECUTION,
                    "total": EXECUTIONS,
                    "spread": DAYS * 86400 / EXECUTIONS,
                    "first": first,
                    "last": last,
                },
            )
            cursor.execute(
                """
                INSERT INTO circuits_steprun (execution_id, node_key, action, scope, attempt, status, port, logs, started_at, finished_at, duration_ms)
                SELECT e.id, 'n' || (s - 1), 'util.transform', '', 1, 'succeeded', 'next', '[]'::jsonb, e.created_at, e.created_at, 1.0
                FROM circuits_execution e CROSS JOIN generate_series(1, %(steps)s) s
                WHERE e.tenant_id = %(tenant)s AND e.id > (SELECT coalesce(max(execution_id), 0) FROM circuits_steprun)
                """,
                {"tenant": tenant.pk, "steps": STEPS_PER_EXECUTION},
            )
            print(f"  loaded {last:,} executions, {last * STEPS_PER_EXECUTION:,} step runs ({time.perf_counter() - started:.0f} s)", flush=True)
        # A running execution holds on to the finished one before it (its parent): never pruned.
        cursor.execute("UPDATE circuits_execution SET parent_id = id - 1 WHERE tenant_id = %s AND status = 'running'", [tenant.pk])
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("VACUUM ANALYZE circuits_execution")
        cursor.execute("VACUUM ANALYZE circuits_steprun")
    print(f"loaded in {time.perf_counter() - started:.0f} s")


def _plan(name: str, queryset) -> None:
    plan = queryset.explain()
    big = [line.strip() for line in plan.splitlines() if "Seq Scan on circuits_execution" in line or "Seq Scan on circuits_steprun" in line]
    indexes = sorted(set(re.findall(r" using (\S+)", plan)))
    verdict = "SEQUENTIAL SCAN of a big table: " + "; ".join(big) if big else "index scans only (" + ", ".join(indexes) + ")"
    print(f"EXPLAIN {name:<50} {verdict}")
    if os.environ.get("RETENTION_BENCH_PLANS"):
        print(plan)


def _pages(client, tenant, circuit_slug: str, execution_id: int, label: str) -> None:
    base = f"/t/{tenant.slug}/executions/"
    for name, url in (
        ("executions list", base),
        ("circuit history", f"{base}?circuit={circuit_slug}"),
        ("execution detail", f"{base}{execution_id}/"),
        ("executions list, page 200", f"{base}?page=200"),
    ):
        assert client.get(url).status_code == 200, url
        report(f"{name} ({label})", timed(lambda url=url: client.get(url), 10))


def main() -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from circuits.automation import retention
    from circuits.automation.models.execution import Execution, StepRun

    if connection.vendor != "postgresql":
        print("\n== retention: PostgreSQL only (python -m bench retention with DATABASE_URL=postgres://…)")
        return
    days = settings.EXECUTION_RETENTION_DAYS
    heading(f"retention at {EXECUTIONS * STEPS_PER_EXECUTION:,} step runs ({EXECUTIONS:,} executions over {DAYS} days, keep {days} days)")
    tenant, user = bench_world("history")
    pairs = _circuits(tenant, user)
    _load(tenant, pairs)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(user)
    recent = Execution.objects.for_tenant(tenant).filter(status="succeeded").order_by("-created_at").values_list("pk", flat=True).first()
    circuit_slug = "history-3"

    from datetime import timedelta

    from django.utils import timezone

    cutoff = timezone.now() - timedelta(days=retention.policy_for(tenant).days)
    _plan("prune: the next batch past the window", retention.prunable_batch(tenant, cutoff, BATCH))
    _plan("executions list (first page)", Execution.objects.for_tenant(tenant).order_by("-created_at", "-pk")[:50])
    _plan("circuit history (first page)", Execution.objects.for_tenant(tenant).filter(circuit_id=pairs[3][0]).order_by("-created_at", "-pk")[:50])
    _plan("execution detail: its steps", StepRun.objects.filter(execution_id=recent).order_by("started_at", "pk"))
    _plan("unfinished executions (the sweep, metrics)", Execution.objects.filter(status__in=["queued", "running", "waiting"]).order_by())
    _pages(client, tenant, circuit_slug, recent, "before pruning")

    batches: list[float] = []
    deleted = 0
    steps_before = StepRun.objects.count()
    started = time.perf_counter()
    while time.perf_counter() - started < SECONDS:
        t0 = time.perf_counter()
        n = retention.prune_tenant(tenant, batch=BATCH, max_batches=1)
        batches.append((time.perf_counter() - t0) * 1000)
        if not n:
            break
        deleted += n
    elapsed = time.perf_counter() - started
    step_runs = steps_before - StepRun.objects.count()
    print(f"pruned {deleted:,} executions, {step_runs:,} step runs in {elapsed:.1f} s: {step_runs / elapsed:,.0f} step runs/s")
    report(f"prune batch ({BATCH} executions, one transaction)", batches)
    print(f"p95 batch {percentile(batches, 95):.0f} ms, longest {max(batches):.0f} ms")
    _pages(client, tenant, circuit_slug, recent, "while pruning has work left")
    if not KEEP:
        _drop_database()
