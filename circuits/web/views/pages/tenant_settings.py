"""Settings tabs next to Members: API keys, credentials, outbound allow-list, limits.

Every member may look (secrets are never shown; keys only by prefix); only owners and
admins change anything, and the services check that again.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone

from circuits.automation import retention
from circuits.automation.engine import limits as governor
from circuits.automation.services.tenant_settings import DeleteCredential, SaveCredential, UpdateTenantSettings
from circuits.tenancy.credentials import SECRET_FIELDS
from circuits.tenancy.models.access import ApiKey, Credential, CredentialKind
from circuits.tenancy.models.audit import AuditEntry
from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.permissions import has_perm, role_of
from circuits.tenancy.roles import Role, role_at_most
from circuits.tenancy.services.apikeys import CreateApiKey, KeyNotAllowed, RevokeApiKey
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.form_errors import apply_errors, error_dict
from circuits.web.views.pages.common import paginate, query_without

# How each secret field is typed into the form (anything not listed is a password box).
SECRET_INPUTS: dict[str, tuple[str, str]] = {
    # field: (input type, label)
    "url": ("password", "Webhook URL"),
    "username": ("text", "Username"),
    "password": ("password", "Password"),
    "token": ("password", "Token"),
    "header": ("text", "Header name"),
    "value": ("password", "Header value"),
    "host": ("text", "Host"),
    "port": ("number", "Port"),
    "use_tls": ("checkbox", "Use TLS (STARTTLS)"),
    "from_email": ("email", "From address"),
    "secret": ("password", "Secret"),
}
LIMIT_HELP = {
    "max_steps": "Step runs per execution.",
    "max_loop_iterations": "Iterations of one loop node.",
    "max_seconds": "Wall time of one execution (waiting excluded).",
    "max_payload_bytes": "Size of a trigger payload or a step output, as JSON.",
    "max_parallel_branches": "Branches of one parallel node.",
    "max_subcircuit_depth": "How deep sub-circuits may call each other.",
}


def settings_context(view: TenantView, tab: str) -> dict:
    return {"settings_tab": tab, "can_manage": has_perm(view.request.user, view.tenant, "manage_settings")}


# --- API keys ---------------------------------------------------------------------------------


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="What the key is for, e.g. “CRM sync”.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.OPERATOR, label="Role", help_text="Never above your role, nor above the member's.")
    user = forms.ChoiceField(label="Acts as member", required=False, help_text="Only owners create keys that act as another member (empty: you).")
    expires_on = forms.DateField(required=False, label="Expires on", widget=forms.DateInput(attrs={"type": "date"}), help_text="Empty: never expires.")

    def __init__(self, *args, members: list[tuple[str, str]], roles: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = members
        self.fields["role"].choices = roles

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        # The key works through the chosen day: it expires at the next midnight.
        expires = datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())
        if expires <= timezone.now():
            raise ValidationError("The expiry must be in the future.")
        return expires


class ApiKeysView(TenantView):
    def _members(self) -> list[tuple[str, str]]:
        """Whom the form offers as the key's user: everyone for an owner, yourself for anyone else."""
        rows = Membership.objects.for_tenant(self.tenant).select_related("user").order_by("user__username")
        if role_of(self.request.user, self.tenant) != Role.OWNER:
            rows = rows.filter(user=self.request.user)
        return [(str(m.user_id), f"{m.user.get_username()} ({m.role})") for m in rows]

    def _roles(self) -> list[tuple[str, str]]:
        """The roles up to your own (the service refuses any other)."""
        mine = role_of(self.request.user, self.tenant)
        return [(value, label) for value, label in Role.choices if role_at_most(value, mine)]

    def _form(self, data=None, **kwargs) -> ApiKeyForm:
        return ApiKeyForm(data, members=self._members(), roles=self._roles(), **kwargs)

    def _render(self, request, form=None, new_key: str = "", new_key_obj=None, status: int = 200):
        keys = list(ApiKey.objects.for_tenant(self.tenant).select_related("user", "created_by"))
        now = timezone.now()
        for key in keys:
            key.state = "revoked" if key.revoked_at else "expired" if key.expires_at and key.expires_at <= now else "active"
        context = {
            **settings_context(self, "api_keys"),
            "keys": keys,
            "form": form or self._form(initial={"user": str(request.user.pk)}),
            "new_key": new_key,
            "new_key_obj": new_key_obj,
        }
        return render_page(request, "pages/settings/api_keys.html", context, status=status)

    def get(self, request):
        return self._render(request)

    def post(self, request):
        self.require("manage_settings")
        form = self._form(request.POST)
        if form.is_valid():
            chosen = form.cleaned_data["user"]
            member = get_user_model().objects.filter(pk=chosen).first() if chosen else request.user
            service = CreateApiKey(
                self.tenant,
                request.user,
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                user=member,
                expires_at=form.cleaned_data["expires_on"],
            )
            try:
                key = service.execute()
            except ValidationError as exc:
                apply_errors(form, exc)
            except KeyNotAllowed as exc:
                # Permission was checked above; these are the caps on what the key may carry.
                form.add_error("expires_on" if exc.field == "expires_at" else exc.field, str(exc))
            else:
                # Rendered, not redirected: the raw key exists only in this response.
                response = self._render(request, new_key=service.raw_key, new_key_obj=key, status=201)
                response["Cache-Control"] = "no-store"
                return response
        return self._render(request, form, status=400)


class ApiKeyRevokeView(TenantView):
    def post(self, request, pk: int):
        self.require("manage_settings")
        key = get_object_or_404(ApiKey.objects.for_tenant(self.tenant), pk=pk)
        try:
            RevokeApiKey(self.tenant, request.user, key).execute()
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Key “{key.name}” ({key.prefix}…) revoked.")
        return redirect("settings_api_keys", tenant_slug=self.tenant.slug)


# --- credentials ------------------------------------------------------------------------------


def kind_fields() -> list[dict]:
    """Each credential kind with the inputs of its secret (for the form's fieldsets)."""
    out = []
    for kind, label in CredentialKind.choices:
        inputs = []
        for name, required in SECRET_FIELDS[kind].items():
            input_type, field_label = SECRET_INPUTS.get(name, ("password", name.replace("_", " ").capitalize()))
            inputs.append({"name": name, "input_name": f"secret-{kind}-{name}", "type": input_type, "label": field_label, "required": required})
        out.append({"kind": kind, "label": label, "inputs": inputs})
    return out


def posted_secret(post, kind: str) -> dict:
    """The secret of the chosen kind only (other kinds' boxes are ignored even if filled)."""
    secret: dict = {}
    for name in SECRET_FIELDS.get(kind, {}):
        input_type = SECRET_INPUTS.get(name, ("password", ""))[0]
        raw = post.get(f"secret-{kind}-{name}", "")
        if input_type == "checkbox":
            if raw:
                secret[name] = True
            continue
        raw = raw.strip()
        if not raw:
            continue
        if input_type == "number":
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 5):
                raise ValidationError({"secret": f"{name}: {raw!r} is not a whole number."})
            secret[name] = int(raw)
        else:
            secret[name] = raw
    return secret


class CredentialsView(TenantView):
    def _render(self, request, values: dict | None = None, errors: dict | None = None, status: int = 200):
        context = {
            **settings_context(self, "credentials"),
            "credentials": Credential.objects.for_tenant(self.tenant).select_related("created_by").defer("encrypted"),
            "kinds": kind_fields(),
            "values": values or {"kind": CredentialKind.SLACK_WEBHOOK},
            "errors": errors or {},
        }
        return render_page(request, "pages/settings/credentials.html", context, status=status)

    def get(self, request):
        return self._render(request)

    def post(self, request):
        self.require("manage_settings")
        values = {k: (request.POST.get(k) or "").strip() for k in ("name", "kind", "description")}
        try:
            secret = posted_secret(request.POST, values["kind"])
            existed = Credential.objects.for_tenant(self.tenant).filter(name=values["name"]).exists()
            SaveCredential(self.tenant, request.user, name=values["name"], kind=values["kind"], secret=secret, description=values["description"]).execute()
        except ValidationError as exc:
            return self._render(request, values, error_dict(exc), status=400)
        messages.success(request, f"Credential “{values['name']}” {'replaced' if existed else 'saved'}. Its secret will not be shown again.")
        return redirect("settings_credentials", tenant_slug=self.tenant.slug)


class CredentialDeleteView(TenantView):
    def post(self, request, pk: int):
        self.require("manage_settings")
        credential = get_object_or_404(Credential.objects.for_tenant(self.tenant).defer("encrypted"), pk=pk)
        DeleteCredential(self.tenant, request.user, credential).execute()
        messages.success(request, f"Credential “{credential.name}” deleted.")
        return redirect("settings_credentials", tenant_slug=self.tenant.slug)


# --- outbound allow-list and limits -------------------------------------------------------------


class AllowListView(TenantView):
    def _render(self, request, text: str | None = None, errors: dict | None = None, status: int = 200):
        context = {
            **settings_context(self, "network"),
            "text": "\n".join(self.tenant.outbound_allowlist or []) if text is None else text,
            "errors": errors or {},
        }
        return render_page(request, "pages/settings/network.html", context, status=status)

    def get(self, request):
        return self._render(request)

    def post(self, request):
        self.require("manage_settings")
        text = request.POST.get("outbound_allowlist", "")
        entries = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
        try:
            UpdateTenantSettings(self.tenant, request.user, outbound_allowlist=entries).execute()
        except ValidationError as exc:
            return self._render(request, text, error_dict(exc), status=400)
        messages.success(request, f"Outbound allow-list saved ({len(entries)} entr{'y' if len(entries) == 1 else 'ies'}).")
        return redirect("settings_network", tenant_slug=self.tenant.slug)


def limit_rows(overrides: dict, posted: dict | None = None) -> list[dict]:
    rows = []
    for name in governor.NAMES:
        value = posted.get(name, "") if posted is not None else overrides.get(name, "")
        rows.append(
            {
                "name": name,
                "label": name.replace("_", " ").capitalize(),
                "default": governor.default(name),
                "maximum": governor.maximum(name),
                "whole": name in governor.WHOLE,
                "value": value,
                "help": LIMIT_HELP.get(name, ""),
            }
        )
    return rows


class LimitsView(TenantView):
    def _render(self, request, posted: dict | None = None, errors: dict | None = None, status: int = 200):
        context = {**settings_context(self, "limits"), "rows": limit_rows(self.tenant.limits or {}, posted), "errors": errors or {}}
        return render_page(request, "pages/settings/limits.html", context, status=status)

    def get(self, request):
        return self._render(request)

    def post(self, request):
        self.require("manage_settings")
        posted = {name: (request.POST.get(name) or "").strip() for name in governor.NAMES}
        # Empty = the default; the service checks each value (finite, in range) and names the bad ones.
        limits = {name: raw for name, raw in posted.items() if raw}
        try:
            UpdateTenantSettings(self.tenant, request.user, limits=limits).execute()
        except ValidationError as exc:
            return self._render(request, posted, error_dict(exc), status=400)
        messages.success(request, "Limits saved.")
        return redirect("settings_limits", tenant_slug=self.tenant.slug)


class RetentionView(TenantView):
    """How long finished executions are kept (days, and optionally a count per circuit)."""

    def _render(self, request, posted: dict | None = None, errors: dict | None = None, status: int = 200):
        stored = self.tenant.retention or {}
        values = posted if posted is not None else {name: stored.get(name, "") for name in retention.FIELDS}
        context = {
            **settings_context(self, "retention"),
            "values": values,
            "errors": errors or {},
            "default_days": retention.platform_days(),
            "max_days": settings.EXECUTION_RETENTION_MAX_DAYS,
            "max_per_circuit": settings.EXECUTION_RETENTION_MAX_PER_CIRCUIT,
        }
        return render_page(request, "pages/settings/retention.html", context, status=status)

    def get(self, request):
        return self._render(request)

    def post(self, request):
        self.require("manage_settings")
        posted = {name: (request.POST.get(name) or "").strip() for name in retention.FIELDS}
        try:
            UpdateTenantSettings(self.tenant, request.user, retention={k: v for k, v in posted.items() if v}).execute()
        except ValidationError as exc:
            return self._render(request, posted, error_dict(exc), status=400)
        messages.success(request, "Execution history retention saved.")
        return redirect("settings_retention", tenant_slug=self.tenant.slug)


# --- Audit trail -------------------------------------------------------------------------------


AUDIT_OBJECT_TYPES = (
    "circuit",
    "circuit_grant",
    "version",
    "trigger",
    "credential",
    "member",
    "api_key",
    "tenant",
    "execution",
    "custom_event",
    "object_type",
    "metrics",
)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="Actor", help_text="Username")
    action = forms.CharField(required=False, max_length=64, label="Action", help_text="e.g. version.published")
    object_type = forms.ChoiceField(required=False, label="Object", choices=[("", "Any object"), *[(t, t.replace("_", " ")) for t in AUDIT_OBJECT_TYPES]])


class AuditView(TenantView):
    """Owners and admins read who changed what (the trail is append-only: nothing here changes it)."""

    def get(self, request):
        self.require("manage_settings")
        filters = AuditFilterForm(request.GET or None)
        entries = AuditEntry.objects.for_tenant(self.tenant).select_related("actor_user", "actor_key")
        if filters.is_valid():
            data = filters.cleaned_data
            if data["actor"]:
                entries = entries.filter(actor_user__username=data["actor"].strip())
            if data["action"]:
                entries = entries.filter(action=data["action"].strip())
            if data["object_type"]:
                entries = entries.filter(object_type=data["object_type"])
        page = paginate(request, entries)
        for entry in page.object_list:
            entry.changes = audit_changes(entry.before, entry.after)
        context = {**settings_context(self, "audit"), "page": page, "filters": filters, "filters_query": query_without(request, "page")}
        return render_page(request, "pages/settings/audit.html", context)


def audit_changes(before: dict | None, after: dict | None) -> list[tuple[str, object, object]]:
    """(field, before, after) for each field that differs: what the page shows of an entry."""
    before, after = before or {}, after or {}
    return [(name, before.get(name), after.get(name)) for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
