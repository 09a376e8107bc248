from __future__ import annotations

from django.conf import settings
from django.db import models

from circuits.models.scoping import TenantOwned


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


class Notification(TenantOwned):
    """An in-app notification, for one member or (user empty) for everyone in the tenant."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    level = models.CharField(max_length=16, default="info")
    link = models.CharField(max_length=500, blank=True)
    execution = models.ForeignKey("circuits.Execution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title


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


class InboxMessage(TenantOwned):
    """A message received by the demo's local webhook inbox (what "Slack" was sent)."""

    channel = models.SlugField(max_length=100)
    body = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.channel} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class NotificationRead(models.Model):
    """A member has read a notification addressed to everyone (each member reads it for themself)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notification", "user"], name="unique_notification_read")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.notification_id}"
