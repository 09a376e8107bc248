"""Who is calling: a per-tenant API key (`Authorization: Bearer cos_…`) or the browser session.

A key acts as its user, but with the key's role — never more than the user's own role at
the time of the request (a user demoted after the key was made takes the key down with
them). The effective role is put into the role cache that `circuits.tenancy.permissions.role_of`
reads, so every `has_perm` / `restrict` call and every service sees the key's role, while
guardian object grants are still looked up for the key's user.

A key belongs to one membership: a key older than its user's current membership was made
while they were a member before, was revoked when they were removed, and stays dead when
they are added again (checked here too, for memberships deleted outside the services).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from circuits.core import logs
from circuits.tenancy import audit
from circuits.tenancy.models.access import ApiKey
from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.permissions import remember_key, remember_role
from circuits.tenancy.roles import lesser_role
from circuits.tenancy.services.apikeys import find_key

# Writing last_used_at on every request would turn each read into a write; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def effective_role(key_role: str, member_role: str) -> str | None:
    """The lower of the key's role and its user's role, by rank (an admin's "owner" key acts as admin)."""
    return lesser_role(key_role, member_role)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # not ours: the session may still authenticate the request
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <key>' with the key and nothing else.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The API key contains characters that keys never have.") from None
        key = find_key(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown, revoked or expired API key.")
        user = key.user
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("The API key's user is inactive.")
        membership = Membership.objects.filter(user=user, tenant=key.tenant).values("role", "created_at").first()
        if membership is None or key.created_at < membership["created_at"]:
            raise exceptions.AuthenticationFailed("The API key's user is no longer a member of its tenant.")
        role = effective_role(key.role, membership["role"])
        if role is None:
            raise exceptions.AuthenticationFailed("The API key has a role this server does not know.")
        remember_role(user, key.tenant, role)
        remember_key(user, key)
        self._touch(key)
        audit.acting_through(key)  # the audit trail names the key as well as its user
        logs.bind(api_key=key.prefix)
        return user, key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) with a WWW-Authenticate challenge to anonymous callers.
        return f'{self.keyword} realm="api"'

    @staticmethod
    def _touch(key: ApiKey) -> None:
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now


class TenantSessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, with DRF's CSRF check on unsafe methods (the tenant comes from X-Tenant)."""
