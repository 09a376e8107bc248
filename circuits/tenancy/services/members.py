"""Inviting, re-roling and removing members of a tenant; accepting or declining an invitation.

Nobody becomes a member without consent: adding a member always sends an invitation to an
e-mail address, whether or not an account with that address exists (here or in another
tenant), and the membership appears only when the addressee accepts. Because the answer is
the same either way, the add form tells nobody who has an account.

Leaving a tenant ends what the membership carried: the member's API keys are revoked (and
stay revoked if they come back) and their object grants on the tenant's circuits are
removed. A demotion lowers the role written on their keys.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from circuits.core.live import close_member_sockets_on_commit
from circuits.tenancy import audit
from circuits.tenancy.models.tenants import Invitation, Membership, Tenant
from circuits.tenancy.permissions import forget_roles, role_of
from circuits.tenancy.roles import Perm, Role, role_allows, role_at_most
from circuits.tenancy.services.apikeys import cap_keys_of, revoke_keys_of
from circuits.tenancy.services.base import Service
from circuits.tenancy.signals import member_left


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(Role.values)}."})


def open_invitations(tenant: Tenant, email: str):
    return Invitation.objects.for_tenant(tenant).filter(email__iexact=email, accepted_at__isnull=True, declined_at__isnull=True, expires_at__gt=timezone.now())


def is_addressed_to(invitation: Invitation, user) -> bool:
    """Is `user` the person the invitation was sent to? (Bound to the address, compared without case.)"""
    return bool(user.email) and user.email.strip().lower() == invitation.email.strip().lower()


class _MemberService(Service):
    perm = Perm.MANAGE_MEMBERS
    denied_message = "Only owners and admins can manage members."

    def _guard_owner_role(self, *roles: str) -> None:
        # Only an owner can hand out or take away ownership.
        if Role.OWNER in roles and role_of(self.actor, self.tenant) != Role.OWNER:
            raise PermissionDenied("Only an owner can grant or remove the owner role.")


class AddMember(_MemberService):
    """Invite an e-mail address to join with `role`; returns the Invitation (never a Membership).

    An open invitation to the same address is replaced (its link stops working), so
    inviting again re-sends the mail with a fresh link.
    """

    audit_action = "member.invited"

    def __init__(self, tenant: Tenant, actor, identifier: str, role: str, *, accept_url_builder=None) -> None:
        super().__init__(tenant, actor)
        self.identifier = (identifier or "").strip()
        self.role = role
        self.accept_url_builder = accept_url_builder

    def validate(self) -> None:
        _check_role(self.role)
        self._guard_owner_role(self.role)
        if not self.identifier:
            raise ValidationError({"identifier": "Give the e-mail address of the person to invite."})
        if "@" not in self.identifier:
            # Usernames are not accepted: looking one up would tell the caller whether it exists.
            raise ValidationError({"identifier": f"{self.identifier!r} is not an e-mail address; members are invited by e-mail address."})
        try:
            validate_email(self.identifier)
        except ValidationError:
            raise ValidationError({"identifier": f"{self.identifier!r} is not a valid e-mail address."}) from None
        # Members and their addresses are listed to every member, so saying so reveals nothing.
        if Membership.objects.for_tenant(self.tenant).filter(user__email__iexact=self.identifier).exists():
            raise ValidationError({"identifier": f"{self.identifier} is already a member of {self.tenant.name}."})
        self._guard_owner_role(*open_invitations(self.tenant, self.identifier).values_list("role", flat=True))

    def perform(self) -> Invitation:
        open_invitations(self.tenant, self.identifier).delete()
        invitation = Invitation.objects.create(tenant=self.tenant, email=self.identifier, role=self.role, invited_by=self.actor)
        path = reverse("accept_invite", args=[invitation.token])
        url = self.accept_url_builder(path) if self.accept_url_builder else path
        send_mail(
            subject=f"You are invited to {self.tenant.name} on Circuit OS",
            message=(
                f"{self.actor.get_username()} invited you to join {self.tenant.name} as {self.role}.\n\n"
                f"Accept or decline: {url}\n\n"
                "If you already have a Circuit OS account with this address, sign in to it to answer.\n"
            ),
            from_email=None,
            recipient_list=[invitation.email],
        )
        return invitation


class ChangeRole(_MemberService):
    audit_action = "member.role_changed"

    def audit_target(self):
        return self.membership

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
        cap_keys_of(self.tenant, self.membership.user, self.role)
        forget_roles(self.membership.user)
        return self.membership


class RemoveMember(_MemberService):
    audit_action = "member.removed"

    def audit_target(self):
        return self.membership

    def __init__(self, tenant: Tenant, actor, membership: Membership) -> None:
        super().__init__(tenant, actor)
        self.membership = membership

    def validate(self) -> None:
        if self.membership.tenant_id != self.tenant.pk:
            raise ValidationError("That membership belongs to another tenant.")
        self._guard_owner_role(self.membership.role)
        if self.membership.role == Role.OWNER:
            _ensure_another_owner(self.tenant, self.membership)

    def perform(self) -> None:
        user = self.membership.user
        self.membership.delete()
        revoke_keys_of(self.tenant, user)
        member_left.send(sender=Tenant, tenant=self.tenant, user=user)
        close_member_sockets_on_commit(self.tenant.pk, user.pk)
        forget_roles(user)


def _ensure_another_owner(tenant: Tenant, membership: Membership) -> None:
    others = Membership.objects.filter(tenant=tenant, role=Role.OWNER).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError({"role": "A tenant must keep at least one owner."})


class _AnswerInvitation:
    """Accept or decline: only the addressee, only while the invitation is open."""

    def __init__(self, invitation: Invitation, user) -> None:
        self.invitation = invitation
        self.user = user

    def check(self) -> None:
        if not self.invitation.is_open:
            raise ValidationError("This invitation has expired or was already answered.")
        if not is_addressed_to(self.invitation, self.user):
            raise PermissionDenied(f"This invitation was sent to {self.invitation.email}; sign in with the account of that address to answer it.")

    def _lock(self) -> Invitation:
        # Row lock: two tabs answering at once cannot both act on one invitation.
        invitation = Invitation.objects.select_for_update().get(pk=self.invitation.pk)
        if not invitation.is_open:
            raise ValidationError("This invitation has expired or was already answered.")
        return invitation


class AcceptInvitation(_AnswerInvitation):
    """Turn an open invitation into a membership for the invited `user` (new or signed in)."""

    def check(self) -> None:
        super().check()
        # The invitation grants what its sender may still grant: someone removed or demoted
        # since cannot bring a member in with their old rights.
        inviter_role = (
            Membership.objects.filter(tenant=self.invitation.tenant, user_id=self.invitation.invited_by_id).values_list("role", flat=True).first()
            if self.invitation.invited_by_id
            else None
        )
        # (By rank, only an owner may have sent an owner invitation.)
        if not (role_allows(inviter_role, Perm.MANAGE_MEMBERS) and role_at_most(self.invitation.role, inviter_role)):
            raise ValidationError("Whoever sent this invitation can no longer grant this role; ask for a new invitation.")

    def execute(self) -> Membership:
        self.check()
        with transaction.atomic():
            invitation = self._lock()
            membership, _ = Membership.objects.get_or_create(tenant=invitation.tenant, user=self.user, defaults={"role": invitation.role})
            invitation.accepted_at = timezone.now()
            invitation.save(update_fields=["accepted_at"])
            audit.record(invitation.tenant, self.user, "member.joined", subject=membership, before=None, after=audit.snapshot(membership))
        forget_roles(self.user)
        return membership


class DeclineInvitation(_AnswerInvitation):
    def execute(self) -> Invitation:
        self.check()
        with transaction.atomic():
            invitation = self._lock()
            invitation.declined_at = timezone.now()
            invitation.save(update_fields=["declined_at"])
        return invitation
