"""Execution history retention: finished executions older than a tenant's window, or beyond
its count per circuit, are deleted with their steps — in small batches, each in a transaction
of its own, so pruning never holds long locks on the tables running executions write to.

The policy: `Tenant.retention` = {"days": N, "per_circuit": M}, each optional. Days default to
EXECUTION_RETENTION_DAYS and may not exceed EXECUTION_RETENTION_MAX_DAYS; no count limit
unless the tenant sets one (at most EXECUTION_RETENTION_MAX_PER_CIRCUIT).

Never pruned: an execution that has not finished (queued, running, waiting), and one whose
children, re-runs or caused executions have not finished yet (they may still read it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from circuits.automation.models.execution import ACTIVE, FINISHED, Execution, StepRun
from circuits.core.numbers import finite_number

FIELDS = ("days", "per_circuit")


@dataclass(frozen=True)
class Policy:
    days: int
    per_circuit: int | None


def platform_days() -> int:
    return int(settings.EXECUTION_RETENTION_DAYS)


def validate(raw: object) -> dict[str, int]:
    """The tenant's retention setting, cleaned; ValueError naming what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("retention must be an object with days and/or per_circuit")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown retention setting {unknown[0]!r} (known: days, per_circuit)")
    maxima = {"days": int(settings.EXECUTION_RETENTION_MAX_DAYS), "per_circuit": int(settings.EXECUTION_RETENTION_MAX_PER_CIRCUIT)}
    cleaned: dict[str, int] = {}
    for name, value in raw.items():
        if value in (None, ""):
            continue  # the default
        try:
            cleaned[name] = int(finite_number(value, integer=True, minimum=1, maximum=maxima[name]))
        except ValueError as exc:
            raise ValueError(f"{name}: {exc} (from 1 to {maxima[name]})") from None
    return cleaned


def policy_for(tenant) -> Policy:
    stored = tenant.retention or {}
    days = min(int(stored.get("days") or platform_days()), int(settings.EXECUTION_RETENTION_MAX_DAYS))
    per_circuit = stored.get("per_circuit")
    return Policy(days=days, per_circuit=int(per_circuit) if per_circuit else None)


def _needed_by_unfinished(field: str) -> QuerySet:
    # The unfinished executions are few and have a partial index (execution_unfinished_idx):
    # the ones they point at are a small hashed set, never a scan of the whole table per batch.
    return Execution.objects.filter(status__in=ACTIVE).exclude(**{f"{field}__isnull": True}).values(field)


def _prunable(tenant) -> QuerySet[Execution]:
    busy = Q(pk__in=_needed_by_unfinished("parent_id")) | Q(pk__in=_needed_by_unfinished("rerun_of_id"))
    busy |= Q(pk__in=_needed_by_unfinished("caused_by_id"))
    return Execution.objects.for_tenant(tenant).filter(status__in=FINISHED).exclude(busy)


def _delete(ids: list[int]) -> int:
    with transaction.atomic():
        StepRun.objects.filter(execution_id__in=ids).delete()  # one DELETE: nothing hangs off a step
        return Execution.objects.filter(pk__in=ids, status__in=FINISHED).delete()[1].get(Execution._meta.label, 0)


def _after(last: tuple | None) -> Q:
    """Keyset: past the last (created_at, pk) a previous batch took (it never re-reads what it
    kept or the index entries of rows it deleted; no OFFSET)."""
    if last is None:
        return Q()
    return Q(created_at__gt=last[0]) | Q(created_at=last[0], pk__gt=last[1])


def prunable_batch(tenant, cutoff, batch: int, after: tuple | None = None) -> QuerySet:
    """(created_at, pk) of the next `batch` prunable executions created before `cutoff`, oldest first."""
    return _prunable(tenant).filter(_after(after), created_at__lt=cutoff).order_by("created_at", "pk").values_list("created_at", "pk")[:batch]


def _prune_batches(tenant, select, batch: int, max_batches: int) -> int:
    deleted, last = 0, None
    for _ in range(max_batches):
        rows = list(select(last)[:batch])
        if not rows:
            break
        last = rows[-1]
        deleted += _delete([pk for _created, pk in rows])
    return deleted


def prune_tenant(tenant, *, batch: int = 500, max_batches: int = 20, now=None) -> int:
    """Delete what the tenant's policy no longer keeps, at most `max_batches` × `batch` executions a call."""
    policy = policy_for(tenant)
    cutoff = (now or timezone.now()) - timedelta(days=policy.days)
    deleted = _prune_batches(tenant, lambda last: prunable_batch(tenant, cutoff, batch, last), batch, max_batches)
    if policy.per_circuit:
        over = (
            Execution.objects.for_tenant(tenant)
            .filter(status__in=FINISHED)
            .values("circuit_id")
            .annotate(n=Count("pk"))
            .filter(n__gt=policy.per_circuit)
            .values_list("circuit_id", flat=True)
        )
        for circuit_id in list(over):
            newest = Execution.objects.for_tenant(tenant).filter(circuit_id=circuit_id, status__in=FINISHED).order_by("-created_at", "-pk")
            boundary = newest.values_list("created_at", "pk")[policy.per_circuit - 1 : policy.per_circuit].first()
            if boundary is None:
                continue
            older = Q(created_at__lt=boundary[0]) | Q(created_at=boundary[0], pk__lt=boundary[1])
            oldest = _prunable(tenant).filter(older, circuit_id=circuit_id).order_by("created_at", "pk").values_list("created_at", "pk")
            deleted += _prune_batches(tenant, lambda last, oldest=oldest: oldest.filter(_after(last)), batch, max_batches)
    return deleted
