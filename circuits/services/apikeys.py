"""API keys: created once (the key is shown once), stored hashed, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from circuits.models import ApiKey, Membership
from circuits.roles import ROLE_PERMISSIONS, Perm, Role
from circuits.services.base import Service

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


class CreateApiKey(Service):
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
        # A key never grants more than its user's own role.
        if not ROLE_PERMISSIONS[self.role] <= ROLE_PERMISSIONS[membership.role]:
            raise PermissionDenied(f"A key for {self.user.get_username()} cannot have a role above theirs ({membership.role}).")

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
