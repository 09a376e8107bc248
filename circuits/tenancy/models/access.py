from __future__ import annotations

from django.conf import settings
from django.db import models

from circuits.tenancy.models.scoping import TenantOwned


class CredentialKind(models.TextChoices):
    SLACK_WEBHOOK = "slack_webhook", "Slack incoming webhook"
    HTTP_BASIC = "http_basic", "HTTP basic auth"
    HTTP_BEARER = "http_bearer", "HTTP bearer token"
    HTTP_HEADER = "http_header", "HTTP header"
    SMTP = "smtp", "SMTP server"
    WEBHOOK_SECRET = "webhook_secret", "Inbound webhook secret"


class Credential(TenantOwned):
    """A tenant's secret, encrypted at rest. The secret is never shown again after saving."""

    name = models.SlugField(max_length=100)
    kind = models.CharField(max_length=32, choices=CredentialKind.choices)
    encrypted = models.BinaryField()
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="unique_credential_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class ApiKey(TenantOwned):
    """A per-tenant API key. Only a hash is stored; the key is shown once when created.

    `prefix` (the first characters of the key) identifies the key in lists and lets the
    authentication look it up by index before comparing hashes.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=128)
    role = models.CharField(max_length=16)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The member the key acts as (its permissions never exceed the key's role).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
