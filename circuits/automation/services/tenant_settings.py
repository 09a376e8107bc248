"""Tenant settings: credentials, outbound allow-list, governor limits and execution retention."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from actions.allowlist import entry_errors
from actions.notify.slack import webhook_url_error
from circuits.automation import retention
from circuits.automation.engine import limits as governor
from circuits.automation.failures import policy as failure_policy
from circuits.automation.models.trigger import CustomEventType
from circuits.automation.triggers.catalogue import BUILTIN_EVENTS
from circuits.tenancy.credentials import save_credential, validate_secret
from circuits.tenancy.models.access import Credential, CredentialKind
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service


class SaveCredential(Service):
    """Create or replace a credential; the secret is encrypted and never shown again."""

    audit_action = "credential.saved"

    def audit_target(self):
        return Credential.objects.for_tenant(self.tenant).filter(name=self.name).first()

    perm = Perm.MANAGE_SETTINGS
    denied_message = "Only owners and admins can manage credentials."

    def __init__(self, tenant, actor, *, name: str, kind: str, secret: dict, description: str = ""):
        super().__init__(tenant, actor)
        self.name, self.kind, self.secret, self.description = name, kind, secret, description

    def validate(self) -> None:
        if not self.name or slugify(self.name) != self.name:
            raise ValidationError({"name": "Use lowercase letters, digits and hyphens for the credential name."})
        validate_secret(self.kind, self.secret)
        if self.kind == CredentialKind.SLACK_WEBHOOK:
            problem = webhook_url_error(self.tenant, self.secret.get("url"))
            if problem:
                raise ValidationError({"secret": f"url: the webhook URL {problem}."})

    def perform(self) -> Credential:
        return save_credential(self.tenant, self.name, self.kind, self.secret, description=self.description, user=self.actor)


class DeleteCredential(Service):
    audit_action = "credential.deleted"

    def audit_target(self):
        return self.credential

    perm = Perm.MANAGE_SETTINGS
    denied_message = "Only owners and admins can manage credentials."

    def __init__(self, tenant, actor, credential: Credential):
        super().__init__(tenant, actor)
        self.credential = credential

    def validate(self) -> None:
        if self.credential.tenant_id != self.tenant.pk:
            raise ValidationError("That credential belongs to another tenant.")

    def perform(self) -> None:
        self.credential.delete()


class UpdateTenantSettings(Service):
    audit_action = "tenant.settings_changed"
    audit_fields = ("id", "name", "outbound_allowlist", "limits")

    def audit_target(self):
        return self.tenant

    perm = Perm.MANAGE_SETTINGS
    denied_message = "Only owners and admins can change tenant settings."

    def __init__(
        self,
        tenant,
        actor,
        *,
        outbound_allowlist: list[str] | None = None,
        limits: dict | None = None,
        name: str | None = None,
        retention: dict | None = None,
        on_failure: dict | None = None,
    ):
        super().__init__(tenant, actor)
        self.allowlist, self.limits, self.name, self.retention = outbound_allowlist, limits, name, retention
        self.on_failure = on_failure

    def validate(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.allowlist is not None:
            if not isinstance(self.allowlist, list) or not all(isinstance(e, str) for e in self.allowlist):
                errors["outbound_allowlist"] = ["A list of host names, host:port or CIDR networks."]
            # The guard's own parser (actions/allowlist.py): what is saved here is what it enforces.
            elif problems := entry_errors(self.allowlist):
                errors["outbound_allowlist"] = problems
        if self.limits is not None:
            problems = []
            self.cleaned_limits: dict[str, int | float] = {}
            if not isinstance(self.limits, dict):
                problems.append("Limits must be an object.")
            else:
                for key, value in self.limits.items():
                    if key not in governor.NAMES:
                        problems.append(f"unknown limit {key!r} (known: {', '.join(governor.NAMES)})")
                        continue
                    # Finite, whole where it counts something, from 1 to the platform's maximum.
                    try:
                        self.cleaned_limits[key] = governor.validate(key, value)
                    except ValueError as exc:
                        problems.append(str(exc))
            if problems:
                errors["limits"] = problems
        if self.name is not None and not self.name.strip():
            errors["name"] = ["The tenant needs a name."]
        if self.retention is not None:
            try:
                self.cleaned_retention = retention.validate(self.retention)
            except ValueError as exc:
                errors["retention"] = [str(exc)]
        if self.on_failure is not None:
            try:
                self.cleaned_on_failure = failure_policy.clean(self.tenant, self.on_failure)
            except ValidationError as exc:
                errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)

    def perform(self):
        if self.allowlist is not None:
            self.tenant.outbound_allowlist = [e.strip() for e in self.allowlist]
        if self.limits is not None:
            self.tenant.limits = self.cleaned_limits
        if self.name is not None:
            self.tenant.name = self.name.strip()
        if self.retention is not None:
            self.tenant.retention = self.cleaned_retention
        if self.on_failure is not None:
            self.tenant.on_failure = self.cleaned_on_failure
        self.tenant.save()
        return self.tenant


class DefineCustomEvent(Service):
    """Add a tenant-defined event name to the catalogue (circuits can then trigger on it)."""

    audit_action = "custom_event.defined"
    perm = Perm.MANAGE_SETTINGS
    denied_message = "Only owners and admins can define custom events."
    NAME = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")

    def __init__(self, tenant, actor, *, name: str, description: str = ""):
        super().__init__(tenant, actor)
        self.name = (name or "").strip()
        self.description = (description or "").strip()

    def validate(self) -> None:
        if not self.NAME.match(self.name) or len(self.name) > 200:
            raise ValidationError({"name": "Use lowercase words joined by dots, e.g. deal.escalated."})
        if self.name in BUILTIN_EVENTS:
            raise ValidationError({"name": f"{self.name} is a built-in event already."})
        if CustomEventType.objects.for_tenant(self.tenant).filter(name=self.name).exists():
            raise ValidationError({"name": f"{self.name} is already in the catalogue."})

    def perform(self) -> CustomEventType:
        return CustomEventType.objects.create(tenant=self.tenant, name=self.name, description=self.description)
