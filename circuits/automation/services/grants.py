"""Object grants on one circuit (django-guardian): share it with a member beyond their role.

Owners and admins (the manage-members permission) grant and revoke; the grantee must be a
member of the tenant — a grant to anyone else would never be read (no role, no access) and
would come back to life if they joined. Only the per-object permissions exist: view, edit,
publish, run (`circuits.tenancy.roles.OBJECT_CODENAMES`).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm

from circuits.automation.models.circuit import Circuit
from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.roles import OBJECT_CODENAMES, Perm
from circuits.tenancy.services.base import Service

GRANTABLE: tuple[str, ...] = tuple(OBJECT_CODENAMES)


def codename(perm: str) -> str:
    return OBJECT_CODENAMES[perm].format(model=Circuit._meta.model_name)


def circuit_grants(circuit: Circuit) -> list[dict]:
    """Each user with a grant on `circuit` and the permissions granted, ordered by username."""
    by_codename = {codename(p): p for p in GRANTABLE}
    rows = (
        UserObjectPermission.objects.filter(content_type=ContentType.objects.get_for_model(Circuit), object_pk=str(circuit.pk))
        .select_related("user", "permission")
        .order_by("user__username", "permission__codename")
    )
    grants: dict[int, dict] = {}
    for row in rows:
        perm = by_codename.get(row.permission.codename)
        if perm is None:
            continue
        entry = grants.setdefault(row.user_id, {"user": row.user, "permissions": []})
        entry["permissions"].append(perm)
    for entry in grants.values():
        entry["permissions"].sort(key=GRANTABLE.index)
    return list(grants.values())


class _GrantService(Service):
    perm = Perm.MANAGE_MEMBERS
    denied_message = "Only owners and admins can share a circuit."
    audit_fields = ("id", "user", "permission", "object_pk")

    def __init__(self, tenant, actor, circuit: Circuit, *, user_id: object, permission: object):
        super().__init__(tenant, actor)
        self.circuit, self.user_id, self.permission = circuit, user_id, permission

    def validate(self) -> None:
        if self.circuit.tenant_id != self.tenant.pk:
            raise ValidationError({"circuit": "That circuit belongs to another tenant."})
        errors: dict[str, str] = {}
        if self.permission not in GRANTABLE:
            errors["permission"] = f"One of {', '.join(GRANTABLE)}."
        self.user = None
        is_id = isinstance(self.user_id, int) and not isinstance(self.user_id, bool)
        if is_id and Membership.objects.for_tenant(self.tenant).filter(user_id=self.user_id).exists():
            self.user = get_user_model().objects.get(pk=self.user_id)
        if self.user is None:
            errors["user"] = "Name a member of this tenant by their user id."
        if errors:
            raise ValidationError(errors)

    def grant_row(self) -> UserObjectPermission | None:
        return (
            UserObjectPermission.objects.filter(
                user=self.user,
                content_type=ContentType.objects.get_for_model(Circuit),
                object_pk=str(self.circuit.pk),
                permission__codename=codename(self.permission),
            )
            .select_related("user", "permission")
            .first()
        )


class GrantCircuitPermission(_GrantService):
    """Grant one member one permission on one circuit (granting it twice changes nothing)."""

    audit_action = "circuit_grant.added"

    def audit_target(self):
        # The grant row is the object: absent before, present after (the circuit itself does not change).
        return self.grant_row()

    def perform(self) -> UserObjectPermission:
        assign_perm(f"{Circuit._meta.app_label}.{codename(self.permission)}", self.user, self.circuit)
        return self.grant_row()  # as stored (guardian's returned row holds object_pk as an int)


class RevokeCircuitPermission(_GrantService):
    """Take back a grant; a grant that does not exist is a 400 naming the permission."""

    audit_action = "circuit_grant.removed"

    def validate(self) -> None:
        super().validate()
        self.row = self.grant_row()
        if self.row is None:
            raise ValidationError({"permission": f"{self.user} holds no {self.permission} grant on {self.circuit.slug}."})

    def audit_target(self):
        return self.row

    def perform(self) -> None:
        self.row.delete()
