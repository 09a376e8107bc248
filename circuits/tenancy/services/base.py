"""Mutations as one object with `check()` and `execute()`.

The htmx view, the REST API and the engine all call the same service, so permission and
validation rules are written once. `check()` raises PermissionDenied / ValidationError;
`execute()` calls `check()` itself and runs inside one transaction (nothing half-saved).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from circuits.tenancy.models.tenants import Tenant
from circuits.tenancy.permissions import has_perm


class Service(ABC):
    perm: str = ""
    denied_message = "You do not have permission to do this."

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
            return self.perform()

    @abstractmethod
    def perform(self) -> Any:
        """The mutation itself; runs inside the transaction opened by `execute()`."""
