from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from circuits.tenancy.roles import Role

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)


class Tenant(models.Model):
    """A company using Circuit OS. Everything a customer owns hangs off one tenant."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    created_at = models.DateTimeField(auto_now_add=True)
    # Hosts/networks outbound HTTP actions may reach even though they are private.
    outbound_allowlist = models.JSONField(default=list, blank=True)
    # Governor limits (steps per execution, loop iterations, seconds, payload bytes).
    limits = models.JSONField(default=dict, blank=True)
    # Metrics count executions created after this moment ("reset metrics").
    metrics_since = models.DateTimeField(null=True, blank=True)
    # How long finished executions are kept: {"days": N, "per_circuit": M} (circuits.automation.retention.py).
    retention = models.JSONField(default=dict, blank=True)
    # What happens when an execution fails, for circuits without a policy of their own
    # (circuits/automation/failures/policy.py): {} = nothing.
    on_failure = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> MembershipQuerySet:
        return self.filter(tenant=tenant)


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="unique_membership")]
        ordering = ["tenant__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


def _invite_token() -> str:
    return secrets.token_urlsafe(32)


def _invite_expiry():
    return timezone.now() + timedelta(days=7)


class Invitation(models.Model):
    """An invitation to join a tenant, sent to an e-mail address; nothing changes until it is answered.

    The addressee accepts or declines it: someone without an account creates one on the way,
    someone with an account signs in to it (only an account with the invited address may answer).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    token = models.CharField(max_length=64, unique=True, default=_invite_token, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_invite_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.tenant} ({self.role})"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.declined_at is None and self.expires_at > timezone.now()
