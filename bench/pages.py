"""Server time of the monitoring pages with 10,000 executions in the tenant.

`python -m bench pages` (or `make bench`). A throwaway tenant gets 10,000 executions of
5 circuits (bulk-created, spread over the last 7 days, 3 step runs each, one failure in
ten) and the pages are fetched with the Django test client, which runs the whole request
in process: middleware, session, views, queries and template rendering — no network. The
target is well under 200 ms per page.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from bench.common import heading, report, timed

EXECUTIONS = 10_000
CIRCUITS = 5
REPEAT = 30
BATCH = 1000


def _populate(tenant, user) -> list[int]:
    from django.utils import timezone

    from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
    from circuits.automation.services.circuits import CreateCircuit
    from circuits.automation.services.versions import PublishDraft, SaveDraft

    circuits = []
    for i in range(CIRCUITS):
        circuit = CreateCircuit(tenant, user, name=f"Bench circuit {i}", slug=f"bench-{i}").execute()
        nodes = [{"key": k, "action": "util.transform", "config": {"template": k}} for k in ("fetch", "score", "notify")]
        edges = [{"source": "trigger", "target": "fetch"}, {"source": "fetch", "target": "score"}, {"source": "score", "target": "notify"}]
        SaveDraft(tenant, user, circuit, {"nodes": nodes, "edges": edges}).execute()
        PublishDraft(tenant, user, circuit).execute()
        circuits.append((circuit, circuit.versions.get(status="published")))

    rng = random.Random(42)
    now = timezone.now()
    ids: list[int] = []
    for start in range(0, EXECUTIONS, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, EXECUTIONS)):
            circuit, version = circuits[n % CIRCUITS]
            failed = n % 10 == 0
            duration = rng.randint(5, 900)
            # Half of them in the last day, the rest over the week: both dashboard ranges have data.
            created = now - timedelta(seconds=rng.randint(0, 86_400 if n % 2 else 7 * 86_400))
            rows.append(
                Execution(
                    tenant=tenant,
                    circuit=circuit,
                    version=version,
                    status=ExecutionStatus.FAILED if failed else ExecutionStatus.SUCCEEDED,
                    trigger_type="api" if n % 3 else "event",
                    input={"email": f"lead{n}@example.test", "score": n % 100, "company": f"Company {n % 250}"},
                    output=None if failed else {"ok": True, "n": n},
                    error={"message": "HTTP 503 from crm.example.test", "node": "notify", "type": "action"} if failed else None,
                    created_at=created,
                    started_at=created,
                    finished_at=created + timedelta(milliseconds=duration),
                    duration_ms=duration,
                    step_count=3,
                )
            )
        created_rows = Execution.objects.bulk_create(rows)
        # created_at is auto_now_add (bulk_create stamps "now"); put the spread back in one pass.
        for row, original in zip(created_rows, rows, strict=True):
            row.created_at = original.started_at
        Execution.objects.bulk_update(created_rows, ["created_at"], batch_size=500)
        steps = []
        for e in created_rows:
            offset = 0.0
            for i, key in enumerate(("fetch", "score", "notify")):
                share = e.duration_ms / 3
                failed_step = e.status == ExecutionStatus.FAILED and i == 2
                steps.append(
                    StepRun(
                        execution=e,
                        node_key=key,
                        action="util.transform",
                        status="failed" if failed_step else "succeeded",
                        port="" if failed_step else "next",
                        input={"n": e.pk},
                        output=None if failed_step else {"step": key},
                        error={"message": "HTTP 503"} if failed_step else None,
                        started_at=e.started_at + timedelta(milliseconds=offset),
                        finished_at=e.started_at + timedelta(milliseconds=offset + share),
                        duration_ms=share,
                    )
                )
                offset += share
        StepRun.objects.bulk_create(steps, batch_size=BATCH)
        ids.extend(e.pk for e in created_rows)
    # Fresh bulk inserts have no planner statistics yet; a live database would.
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE circuits_execution, circuits_steprun")
    return ids


def main() -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from circuits.automation.models.execution import Execution
    from circuits.tenancy.models.tenants import Membership, Tenant

    slug = f"bench-pages-{secrets.token_hex(3)}"
    tenant = Tenant.objects.create(name="Bench pages", slug=slug)
    user = get_user_model().objects.create_user(username=slug)
    Membership.objects.create(tenant=tenant, user=user, role="owner")
    try:
        ids = _populate(tenant, user)
        client = Client()
        client.force_login(user)
        base = f"/t/{slug}"
        failed, sample = ids[5000], ids[5001]  # every tenth one (n % 10 == 0) failed
        heading(f"pages: server time with {EXECUTIONS:,} executions ({EXECUTIONS * 3:,} step runs) in the tenant, Django test client")
        pages = [
            ("executions list (first page)", f"{base}/executions/"),
            ("executions list (status + circuit filter)", f"{base}/executions/?status=failed&circuit=bench-2"),
            ("executions list (payload search)", f"{base}/executions/?q=company+17"),
            ("executions list (page 100)", f"{base}/executions/?page=100"),
            ("execution page", f"{base}/executions/{sample}/"),
            ("execution page (failed)", f"{base}/executions/{failed}/"),
            ("dashboard (24 h, hourly)", f"{base}/dashboard/"),
            ("dashboard (7 days, daily)", f"{base}/dashboard/?range=7d"),
            ("overview", f"{base}/"),
        ]
        for label, url in pages:

            def fetch(url=url):
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)

            fetch()  # warm caches (templates, compiled queries, the session)
            report(label, timed(fetch, REPEAT))
    finally:
        # Executions first: they PROTECT the versions that the tenant's circuits cascade to.
        Execution.objects.for_tenant(tenant).delete()
        tenant.delete()
        get_user_model().objects.filter(username=slug).delete()


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    main()
