"""API keys: created once (the key is shown once), stored hashed, revocable.

A key never carries more than the person who made it: its role is at most the creating
actor's role (for an actor signed in with a key, that key's capped role) and at most the
role of the member it acts as; an actor using a key that expires cannot create a key that
outlives it; and only an owner creates keys that act as another member. At each request
the key is capped again by its user's current role (`circuits.web.api.authentication`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from circuits.tenancy.models.access import ApiKey
from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.permissions import acting_key, role_of
from circuits.tenancy.roles import Perm, Role, role_at_most
from circuits.tenancy.services.base import Service

KEY_PREFIX = "cos_"


def hash_key(key: str) -> str:
    # Keys are 256-bit random, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


def find_key(raw: str) -> ApiKey | None:
    """The active key matching `raw`, or None (unknown, revoked or expired)."""
    if not raw.startswith(KEY_PREFIX) or len(raw) < 20:
        return None
    key = ApiKey.objects.select_related("tenant", "user").filter(prefix=raw[:12]).first()
    if key is None or not secrets.compare_digest(key.hashed_key, hash_key(raw)):
        return None
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= timezone.now()):
        return None
    return key


class KeyNotAllowed(PermissionDenied):
    """A key the actor may not create; `field` names the input to change (for forms)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def revoke_keys_of(tenant, user) -> int:
    """Revoke every still-unrevoked key of `user` in `tenant` (they left it); returns how many."""
    return ApiKey.objects.for_tenant(tenant).filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def cap_keys_of(tenant, user, role: str) -> int:
    """Lower the stored role of `user`'s keys in `tenant` to `role` (they were demoted); returns how many.

    Authentication caps a key by its user's role at every request anyway; writing the cap
    down makes the key list truthful and keeps a later promotion from reviving the old role.
    """
    above = [r for r in Role.values if not role_at_most(r, role)]
    return ApiKey.objects.for_tenant(tenant).filter(user=user, role__in=above).update(role=role)


class CreateApiKey(Service):
    audit_action = "api_key.created"
    audit_fields = ("id", "name", "prefix", "role", "user", "created_by", "expires_at", "revoked_at")

    perm = Perm.MANAGE_SETTINGS
    denied_message = "Only owners and admins can create API keys."

    def __init__(self, tenant, actor, *, name: str, role: str, user=None, expires_at: datetime | None = None):
        super().__init__(tenant, actor)
        self.name = (name or "").strip()
        self.role = role
        self.user = user or actor
        self.expires_at = expires_at
        self.raw_key = ""

    def validate(self) -> None:
        if not self.name:
            raise ValidationError({"name": "Give the key a name."})
        if self.role not in Role.values:
            raise ValidationError({"role": f"Unknown role {self.role!r}; choose one of {', '.join(Role.values)}."})
        if self.expires_at is not None and self.expires_at <= timezone.now():
            raise ValidationError({"expires_at": "The expiry must be in the future."})
        membership = Membership.objects.filter(tenant=self.tenant, user=self.user).first() if self.user else None
        if membership is None:
            raise ValidationError({"user": "The key's user must be a member of the tenant."})
        # The actor's role in this request: for a key, already capped by that key's role.
        actor_role = role_of(self.actor, self.tenant)
        if self.user.pk != self.actor.pk and actor_role != Role.OWNER:
            raise KeyNotAllowed("user", "Only an owner can create a key that acts as another member; create a key of your own instead.")
        if not role_at_most(self.role, actor_role):
            raise KeyNotAllowed("role", f"You act as {actor_role} here, so a key you create cannot have a role above that (asked: {self.role}).")
        if not role_at_most(self.role, membership.role):
            raise KeyNotAllowed("role", f"A key for {self.user.get_username()} cannot have a role above theirs ({membership.role}).")
        own = acting_key(self.actor)
        if own is not None and own.expires_at is not None and (self.expires_at is None or self.expires_at > own.expires_at):
            # Refused rather than quietly shortened: the caller learns the key's real lifetime.
            raise KeyNotAllowed(
                "expires_at",
                f"The key you are using expires at {own.expires_at.isoformat()}; a key it creates needs an expires_at at or before then.",
            )

    def perform(self) -> ApiKey:
        self.raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
        return ApiKey.objects.create(
            tenant=self.tenant,
            name=self.name,
            prefix=self.raw_key[:12],
            hashed_key=hash_key(self.raw_key),
            role=self.role,
            user=self.user,
            created_by=self.actor,
            expires_at=self.expires_at,
        )


class RevokeApiKey(Service):
    audit_action = "api_key.revoked"
    audit_fields = ("id", "name", "prefix", "role", "user", "created_by", "expires_at", "revoked_at")

    def audit_target(self):
        return self.key

    perm = Perm.MANAGE_SETTINGS
    denied_message = "Only owners and admins can revoke API keys."

    def __init__(self, tenant, actor, key: ApiKey):
        super().__init__(tenant, actor)
        self.key = key

    def validate(self) -> None:
        if self.key.tenant_id != self.tenant.pk:
            raise ValidationError("That key belongs to another tenant.")
        if self.key.revoked_at is not None:
            raise ValidationError("The key is already revoked.")

    def perform(self) -> ApiKey:
        self.key.revoked_at = timezone.now()
        self.key.save(update_fields=["revoked_at"])
        return self.key
