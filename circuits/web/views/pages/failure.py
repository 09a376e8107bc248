"""The "on failure" policy on pages: a circuit's own (Circuits → a circuit → On failure) and the
tenant's default (Settings → On failure). Both post to the same services the API uses."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect

from circuits.automation.failures import policy as failure_policy
from circuits.automation.models.circuit import Circuit
from circuits.automation.services.circuits import UpdateCircuit
from circuits.automation.services.tenant_settings import UpdateTenantSettings
from circuits.tenancy.models.access import Credential, CredentialKind
from circuits.tenancy.permissions import has_perm
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.form_errors import error_dict
from circuits.web.views.pages.tenant_settings import settings_context

GROUP_LABELS = {"owner": "The circuit's owner", "admins": "Owners and admins", "editors": "Editors"}


def policy_from_post(post: QueryDict) -> dict:
    """The form as a policy: checked groups plus named members, addresses, the chosen credential and circuit."""
    others = [n.strip() for n in post.get("notify_members", "").replace("\n", ",").split(",") if n.strip()]
    policy: dict = {
        "notify": [g for g in failure_policy.GROUPS if post.get(f"notify_{g}")] + others,
        "emails": post.get("emails", ""),
        "slack": post.get("slack", "").strip(),
        "error_circuit": post.get("error_circuit", "").strip(),
    }
    if post.get("digest_minutes", "").strip():
        policy["digest_minutes"] = post["digest_minutes"].strip()
    return policy


def form_values(stored: dict | None) -> dict:
    stored = stored or {}
    notify = list(stored.get("notify") or [])
    return {
        "groups": [g for g in notify if g in failure_policy.GROUPS],
        "members": ", ".join(n for n in notify if n not in failure_policy.GROUPS),
        "emails": ", ".join(stored.get("emails") or []),
        "slack": stored.get("slack", ""),
        "error_circuit": stored.get("error_circuit", ""),
        "digest_minutes": stored.get("digest_minutes", ""),
    }


def choices_context(tenant, *, exclude: Circuit | None = None) -> dict:
    circuits = Circuit.objects.for_tenant(tenant).order_by("name")
    if exclude is not None:
        circuits = circuits.exclude(pk=exclude.pk)
    slack = Credential.objects.for_tenant(tenant).filter(kind=CredentialKind.SLACK_WEBHOOK).order_by("name")
    return {
        "groups": list(GROUP_LABELS.items()),
        "slack_credentials": list(slack.values_list("name", flat=True)),
        "error_circuits": list(circuits.values_list("slug", "name")),
        "default_digest": failure_policy.DEFAULT_DIGEST_MINUTES,
        "max_digest": failure_policy.MAX_DIGEST_MINUTES,
    }


class TenantFailureView(TenantView):
    """Settings → On failure: the default for circuits without a policy of their own."""

    def _render(self, request, values: dict, errors: dict | None = None, status: int = 200):
        context = {**settings_context(self, "on_failure"), **choices_context(self.tenant), "values": values, "errors": errors or {}}
        return render_page(request, "pages/settings/on_failure.html", context, status=status)

    def get(self, request):
        return self._render(request, form_values(self.tenant.on_failure))

    def post(self, request):
        self.require("manage_settings")
        policy = policy_from_post(request.POST)
        try:
            UpdateTenantSettings(self.tenant, request.user, on_failure=policy).execute()
        except ValidationError as exc:
            return self._render(request, form_values(policy) | {"emails": request.POST.get("emails", "")}, error_dict(exc), status=400)
        messages.success(request, "Default failure handling saved.")
        return redirect("settings_on_failure", tenant_slug=self.tenant.slug)


class CircuitFailureView(TenantView):
    """A circuit's own failure policy, or the tenant's default for it."""

    def _circuit(self, request, slug: str) -> Circuit:
        return get_object_or_404(Circuit.objects.restrict(request.user, "view", self.tenant), slug=slug)

    def _render(self, request, circuit: Circuit, values: dict, *, own: bool, errors: dict | None = None, status: int = 200):
        context = {
            "tenant": self.tenant,
            "circuit": circuit,
            "values": values,
            "own": own,
            "errors": errors or {},
            "can_edit": has_perm(request.user, self.tenant, "edit", circuit),
            "tenant_default": self.tenant.on_failure or {},
            **choices_context(self.tenant, exclude=circuit),
        }
        return render_page(request, "pages/failure/circuit.html", context, status=status)

    def get(self, request, slug: str):
        circuit = self._circuit(request, slug)
        return self._render(request, circuit, form_values(circuit.on_failure), own=circuit.on_failure is not None)

    def post(self, request, slug: str):
        circuit = self._circuit(request, slug)
        own = request.POST.get("mode") != "default"
        policy = policy_from_post(request.POST) if own else None
        try:
            UpdateCircuit(self.tenant, request.user, circuit, on_failure=policy).execute()
        except ValidationError as exc:
            circuit.refresh_from_db()
            typed = form_values(policy) | {"emails": request.POST.get("emails", "")}
            return self._render(request, circuit, typed, own=True, errors=error_dict(exc), status=400)
        messages.success(request, f"Failure handling of {circuit.name} saved.")
        return redirect("circuit_on_failure", tenant_slug=self.tenant.slug, slug=circuit.slug)
