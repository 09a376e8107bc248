"""Apply a side effect once per idempotency key.

The engine gives every side-effecting step a key (execution, node, scope, attempt) that stays
the same when a step lost with its worker runs again. Effects that live in our own database —
record writes, sub-circuit starts, in-app notifications — store the key in an `AppliedWrite`
row in the same transaction as the effect, so the re-run finds the row and answers with the
first apply's result instead of applying again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from django.db import transaction

from circuits.tenancy.models.effects import AppliedWrite

if TYPE_CHECKING:
    from circuits.tenancy.models.tenants import Tenant

T = TypeVar("T")


def apply_once(
    tenant: Tenant,
    key: str | None,
    operation: str,
    perform: Callable[[], T],
    remember: Callable[[T], tuple[int | None, dict]],
    repeat: Callable[[AppliedWrite], T],
) -> tuple[T, bool]:
    """`perform()` unless `key` was applied before in `tenant`; then `repeat(the first apply)`.

    Returns (the result, whether it was applied now). `remember(result)` says what a repeat
    needs: (the id of the object made, extra JSON). Without a key (a call from outside the
    engine) the effect simply happens.
    """
    if not key:
        return perform(), True
    with transaction.atomic():
        # The key is taken first, in the effect's own transaction: a concurrent repeat blocks
        # on the unique index until this commits (then finds it) or rolls back (then applies).
        applied, first = AppliedWrite.objects.get_or_create(tenant=tenant, key=key, defaults={"operation": operation})
        if not first:
            return repeat(applied), False
        result = perform()
        applied.record_key, applied.result = remember(result)
        applied.save(update_fields=["record_key", "result"])
        return result, True
