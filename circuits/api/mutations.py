"""The two deletions the API offers that circuits/services has no service for yet.

Written as services (check + one transaction) so they can move to circuits/services as is.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from circuits.models import Circuit, Execution, ExecutionStatus, Trigger
from circuits.roles import Perm
from circuits.services.base import Service


class DeleteCircuit(Service):
    """Delete a circuit with its versions, triggers and execution history."""

    perm = Perm.EDIT
    denied_message = "You cannot delete this circuit."

    def __init__(self, tenant, actor, circuit: Circuit):
        super().__init__(tenant, actor)
        self.circuit = circuit

    def permission_object(self):
        return self.circuit

    def validate(self) -> None:
        if self.circuit.tenant_id != self.tenant.pk:
            raise ValidationError("That circuit belongs to another tenant.")
        active = Execution.objects.for_tenant(self.tenant).filter(
            circuit=self.circuit, status__in=[ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.WAITING]
        )
        if active.exists():
            raise ValidationError({"circuit": f"{active.count()} execution(s) of this circuit are still queued, running or waiting; cancel them first."})

    def perform(self) -> None:
        # Executions protect the versions they ran: remove the history before the versions.
        Execution.objects.for_tenant(self.tenant).filter(circuit=self.circuit).delete()
        self.circuit.delete()


class DeleteTrigger(Service):
    perm = Perm.EDIT
    denied_message = "You cannot edit this circuit's triggers."

    def __init__(self, tenant, actor, trigger: Trigger):
        super().__init__(tenant, actor)
        self.trigger = trigger

    def permission_object(self):
        return self.trigger.circuit

    def validate(self) -> None:
        if self.trigger.tenant_id != self.tenant.pk:
            raise ValidationError("That trigger belongs to another tenant.")

    def perform(self) -> None:
        self.trigger.delete()
