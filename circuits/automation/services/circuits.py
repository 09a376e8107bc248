"""Creating and changing circuits (the metadata; graphs live in versions)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from circuits.automation.failures import policy as failure_policy
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service


class CreateCircuit(Service):
    audit_action = "circuit.created"

    perm = Perm.EDIT
    denied_message = "Your role cannot create circuits."

    def __init__(self, tenant, actor, *, name: str, slug: str = "", description: str = "", enabled: bool = True, tags=None):
        super().__init__(tenant, actor)
        self.name = (name or "").strip()
        self.slug = (slug or slugify(self.name))[:50]
        self.description = description
        self.enabled = enabled
        self.tags = list(tags or [])

    def validate(self) -> None:
        if not self.name:
            raise ValidationError({"name": "A circuit needs a name."})
        circuit = Circuit(tenant=self.tenant, name=self.name, slug=self.slug, description=self.description)
        circuit.full_clean(exclude=["tenant", "owner"], validate_unique=False)
        if Circuit.objects.for_tenant(self.tenant).filter(slug=self.slug).exists():
            raise ValidationError({"slug": f"A circuit with slug {self.slug!r} already exists."})

    def perform(self) -> Circuit:
        return Circuit.objects.create(
            tenant=self.tenant,
            name=self.name,
            slug=self.slug,
            description=self.description,
            enabled=self.enabled,
            tags=self.tags,
            owner=self.actor,
        )


class UpdateCircuit(Service):
    audit_action = "circuit.updated"

    def audit_target(self):
        return self.circuit

    perm = Perm.EDIT
    denied_message = "You cannot edit this circuit."
    fields = ("name", "description", "enabled", "tags", "on_failure")

    def __init__(self, tenant, actor, circuit: Circuit, **changes):
        super().__init__(tenant, actor)
        self.circuit = circuit
        unknown = set(changes) - set(self.fields)
        if unknown:
            raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
        self.changes = changes

    def permission_object(self):
        return self.circuit

    def validate(self) -> None:
        changes = dict(self.changes)
        if "on_failure" in changes:
            # Every name in it is checked inside this tenant (members, credential, error circuit).
            changes["on_failure"] = failure_policy.clean(self.tenant, changes["on_failure"], circuit=self.circuit)
        for field, value in changes.items():
            setattr(self.circuit, field, value)
        self.circuit.full_clean(exclude=["tenant", "owner", "slug"], validate_unique=False)

    def perform(self) -> Circuit:
        self.circuit.save()
        return self.circuit


class SetCircuitEnabled(UpdateCircuit):
    """Enable/disable is an operator's job too (it does not change the graph)."""

    @property
    def audit_action(self) -> str:
        return "circuit.enabled" if self.changes["enabled"] else "circuit.disabled"

    perm = Perm.RUN

    def __init__(self, tenant, actor, circuit: Circuit, enabled: bool):
        super().__init__(tenant, actor, circuit, enabled=enabled)


class DeleteCircuit(Service):
    """Delete a circuit with its versions, triggers and execution history."""

    audit_action = "circuit.deleted"

    def audit_target(self):
        return self.circuit

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
