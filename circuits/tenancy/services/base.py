"""Mutations as one object with `check()` and `execute()`.

The htmx view, the REST API and the engine all call the same service, so permission and
validation rules are written once. `check()` raises PermissionDenied / ValidationError;
`execute()` calls `check()` itself and runs inside one transaction (nothing half-saved).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models, transaction

from circuits.tenancy import audit
from circuits.tenancy.models.tenants import Tenant
from circuits.tenancy.permissions import has_perm


class Service(ABC):
    perm: str = ""
    denied_message = "You do not have permission to do this."
    # "<object type>.<verb>" (e.g. version.published): the change is written to the audit trail
    # (circuits/tenancy/audit.py) in the mutation's transaction. Empty: not audited.
    audit_action: str = ""
    # Only these fields in the audit snapshots (None: every plain field but secrets).
    audit_fields: tuple[str, ...] | None = None

    def __init__(self, tenant: Tenant, actor) -> None:
        self.tenant = tenant
        self.actor = actor

    def permission_object(self):
        return None

    def check(self) -> None:
        if self.perm and not has_perm(self.actor, self.tenant, self.perm, self.permission_object()):
            raise PermissionDenied(self.denied_message)
        self.validate()

    def validate(self) -> None:  # noqa: B027 - optional hook
        """Raise django.core.exceptions.ValidationError naming the bad field."""

    def execute(self) -> Any:
        self.check()
        with transaction.atomic():
            if not self.audit_action:
                return self.perform()
            target = self.audit_target()
            stored = audit.fresh(target)
            before, label = audit.snapshot(stored, self.audit_fields), str(stored) if stored is not None else ""
            result = self.perform()
            subject = result if isinstance(result, models.Model) else target
            audit.record(
                self.tenant,
                self.actor,
                self.audit_action,
                subject=subject if subject is not None and subject.pk is not None else None,
                before=before,
                after=audit.snapshot(subject, self.audit_fields),
                object_id=stored.pk if stored is not None else None,
                object_repr=label,
            )
            return result

    def audit_target(self) -> models.Model | None:
        """The existing object this service changes (its state before is recorded); None: it creates one."""
        return None

    @abstractmethod
    def perform(self) -> Any:
        """The mutation itself; runs inside the transaction opened by `execute()`."""
