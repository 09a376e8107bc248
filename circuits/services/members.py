"""Adding, inviting, re-roling and removing members of a tenant."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.urls import reverse
from django.utils import timezone

from circuits.models.tenancy import Invitation, Membership, Tenant
from circuits.permissions import forget_roles, role_of
from circuits.roles import Perm, Role
from circuits.services.base import Service


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(Role.values)}."})


class _MemberService(Service):
    perm = Perm.MANAGE_MEMBERS
    denied_message = "Only owners and admins can manage members."

    def _guard_owner_role(self, *roles: str) -> None:
        # Only an owner can hand out or take away ownership.
        if Role.OWNER in roles and role_of(self.actor, self.tenant) != Role.OWNER:
            raise PermissionDenied("Only an owner can grant or remove the owner role.")


class AddMember(_MemberService):
    """Add an existing user by e-mail or username, or invite a new address by e-mail."""

    def __init__(self, tenant: Tenant, actor, identifier: str, role: str, *, accept_url_builder=None) -> None:
        super().__init__(tenant, actor)
        self.identifier = (identifier or "").strip()
        self.role = role
        self.accept_url_builder = accept_url_builder
        self.user = None

    def validate(self) -> None:
        _check_role(self.role)
        self._guard_owner_role(self.role)
        if not self.identifier:
            raise ValidationError({"identifier": "Give the e-mail address or username of the person to add."})
        users = get_user_model().objects
        self.user = (
            users.filter(email__iexact=self.identifier).order_by("pk").first() if "@" in self.identifier else users.filter(username=self.identifier).first()
        )
        if self.user is None:
            if "@" not in self.identifier:
                raise ValidationError({"identifier": f"No user is called {self.identifier!r}; invite them by e-mail instead."})
            try:
                validate_email(self.identifier)
            except ValidationError:
                raise ValidationError({"identifier": f"{self.identifier!r} is not a valid e-mail address."}) from None
        elif Membership.objects.filter(tenant=self.tenant, user=self.user).exists():
            raise ValidationError({"identifier": f"{self.user.get_username()} is already a member of {self.tenant.name}."})

    def perform(self) -> Membership | Invitation:
        if self.user is not None:
            membership = Membership.objects.create(tenant=self.tenant, user=self.user, role=self.role)
            forget_roles(self.user)
            return membership
        invitation = Invitation.objects.create(tenant=self.tenant, email=self.identifier, role=self.role, invited_by=self.actor)
        path = reverse("accept_invite", args=[invitation.token])
        url = self.accept_url_builder(path) if self.accept_url_builder else path
        send_mail(
            subject=f"You are invited to {self.tenant.name} on Circuit OS",
            message=f"{self.actor.get_username()} invited you to join {self.tenant.name} as {self.role}.\n\nAccept: {url}\n",
            from_email=None,
            recipient_list=[invitation.email],
        )
        return invitation


class ChangeRole(_MemberService):
    def __init__(self, tenant: Tenant, actor, membership: Membership, role: str) -> None:
        super().__init__(tenant, actor)
        self.membership = membership
        self.role = role

    def validate(self) -> None:
        _check_role(self.role)
        if self.membership.tenant_id != self.tenant.pk:
            raise ValidationError("That membership belongs to another tenant.")
        self._guard_owner_role(self.role, self.membership.role)
        if self.membership.role == Role.OWNER and self.role != Role.OWNER:
            _ensure_another_owner(self.tenant, self.membership)

    def perform(self) -> Membership:
        self.membership.role = self.role
        self.membership.save(update_fields=["role"])
        forget_roles(self.membership.user)
        return self.membership


class RemoveMember(_MemberService):
    def __init__(self, tenant: Tenant, actor, membership: Membership) -> None:
        super().__init__(tenant, actor)
        self.membership = membership

    def validate(self) -> None:
        self._guard_owner_role(self.membership.role)
        if self.membership.role == Role.OWNER:
            _ensure_another_owner(self.tenant, self.membership)

    def perform(self) -> None:
        self.membership.delete()
        forget_roles(self.membership.user)


def _ensure_another_owner(tenant: Tenant, membership: Membership) -> None:
    others = Membership.objects.filter(tenant=tenant, role=Role.OWNER).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError({"role": "A tenant must keep at least one owner."})


class AcceptInvitation:
    """Turn an open invitation into a membership for `user` (new or signed in)."""

    def __init__(self, invitation: Invitation, user) -> None:
        self.invitation = invitation
        self.user = user

    def execute(self) -> Membership:
        if not self.invitation.is_open:
            raise ValidationError("This invitation has expired or was already used.")
        membership, _ = Membership.objects.get_or_create(tenant=self.invitation.tenant, user=self.user, defaults={"role": self.invitation.role})
        self.invitation.accepted_at = timezone.now()
        self.invitation.save(update_fields=["accepted_at"])
        forget_roles(self.user)
        return membership
