"""Shared set-up for benchmarks: a throwaway database, a tenant, figures printed plainly."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    """Use the configured database, or a fresh SQLite file under var/ (never the dev database)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "circuitos_site.settings_test")
    if not os.environ.get("DATABASE_URL"):
        bench_db = ROOT / "var" / "bench.sqlite3"
        bench_db.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{bench_db}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{bench_db}"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def bench_world(slug: str = "bench"):
    from django.contrib.auth import get_user_model

    from circuits.tenancy.models.tenants import Membership, Tenant

    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": f"Bench {slug}"})
    user, _ = get_user_model().objects.get_or_create(username=f"bench-{slug}")
    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": "owner"})
    return tenant, user


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def report(name: str, values: list[float], unit: str = "ms") -> None:
    if not values:
        print(f"{name:<58} no samples")
        return
    print(f"{name:<58} median {statistics.median(values):9.3f} {unit}   p95 {percentile(values, 95):9.3f} {unit}   n={len(values)}")


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def heading(text: str) -> None:
    from django.conf import settings

    print(f"\n== {text}  [db={settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, broker={settings.CELERY_BROKER_URL.split(':')[0]}]")
