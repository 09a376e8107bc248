from __future__ import annotations

from django.conf import settings
from django.db import models

from circuits.tenancy.models.scoping import TenantOwned


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
