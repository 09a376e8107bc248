"""The tenant's settings in the API: default failure policy, governor limits, outbound allow-list.

Everyone in the tenant reads them (the Settings pages show them to every member); owners and
admins change them, all through `UpdateTenantSettings` — the service the Settings pages call —
so one PATCH is checked as a whole and a bad field saves nothing.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from circuits.automation.engine import limits as governor
from circuits.automation.services.tenant_settings import UpdateTenantSettings
from circuits.tenancy.roles import Perm
from circuits.web.api.serializers.circuits import FailurePolicyField
from circuits.web.api.serializers.common import JSONObjectField, StrictSerializer
from circuits.web.api.views.base import ApiView

TAG = ["tenant"]
POLICY = {"notify": ["admins"], "emails": ["ops@acme.test"], "slack": "ops-alerts", "error_circuit": "on-error", "digest_minutes": 15}

SETTINGS_EXAMPLE = {
    "on_failure": POLICY,
    "limits": {"max_steps": 500},
    "effective_limits": {"max_steps": {"value": 500, "default": 1000, "maximum": 10000, "whole": True}},
    "outbound_allowlist": ["api.example.com", "10.20.0.0/16"],
}


class LimitSerializer(serializers.Serializer):
    value = serializers.FloatField(help_text="What the engine enforces: the tenant's own value, else the default.")
    default = serializers.FloatField()
    maximum = serializers.IntegerField(help_text="The platform's maximum (ENGINE_PLATFORM_<NAME>); no tenant goes above it.")
    whole = serializers.BooleanField(help_text="Counts something: a whole number.")


class TenantSettingsSerializer(serializers.Serializer):
    on_failure = FailurePolicyField(read_only=True, help_text="The failure policy of circuits without one of their own ({} = nothing).")
    limits = serializers.DictField(child=serializers.FloatField(), read_only=True, help_text="The tenant's own limits (the rest use the default).")
    effective_limits = serializers.DictField(child=LimitSerializer(), read_only=True)
    outbound_allowlist = serializers.ListField(child=serializers.CharField(), read_only=True)


class TenantSettingsUpdateSerializer(StrictSerializer):
    on_failure = FailurePolicyField(required=False, help_text="The default failure policy; {} = nothing on failure.")
    limits = JSONObjectField(
        required=False,
        help_text="Replaces the tenant's own limits: {name: number}; a name left out goes back to its default, {} = every default.",
    )
    outbound_allowlist = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        max_length=500,
        help_text="Replaces the list: host names, *.suffix, host:port or CIDR networks the HTTP actions may reach.",
    )


def settings_data(tenant) -> dict:
    overrides = tenant.limits or {}
    effective = governor.Limits.for_tenant(tenant)
    return {
        "on_failure": tenant.on_failure or {},
        "limits": overrides,
        "effective_limits": {
            name: {"value": getattr(effective, name), "default": governor.default(name), "maximum": governor.maximum(name), "whole": name in governor.WHOLE}
            for name in governor.NAMES
        },
        "outbound_allowlist": list(tenant.outbound_allowlist or []),
    }


@extend_schema(tags=TAG)
class TenantSettingsView(ApiView):
    perms = {"GET": Perm.VIEW, "PATCH": Perm.MANAGE_SETTINGS}
    serializer_class = TenantSettingsSerializer

    @extend_schema(
        summary="Read the tenant's settings",
        examples=[OpenApiExample("Settings", response_only=True, value=SETTINGS_EXAMPLE)],
    )
    def get(self, request):
        return Response(settings_data(self.tenant))

    @extend_schema(
        summary="Change the tenant's default failure policy, limits or outbound allow-list (owners and admins)",
        description=(
            "Send only what changes. `on_failure` applies to every circuit whose own `on_failure` is null; names are checked in "
            "this tenant (members, a slack_webhook credential, the error circuit). `limits` replaces the tenant's own governor "
            "limits (each finite, whole where it counts something, from 1 to the platform's maximum). `outbound_allowlist` replaces "
            "the hosts the HTTP actions may reach, parsed by the same code that enforces it. A 400 names the field that is wrong "
            "and nothing of the request is saved."
        ),
        request=TenantSettingsUpdateSerializer,
        examples=[
            OpenApiExample("Default policy", request_only=True, value={"on_failure": {"notify": ["admins"], "digest_minutes": 30}}),
            OpenApiExample("Limits and allow-list", request_only=True, value={"limits": {"max_steps": 500}, "outbound_allowlist": ["api.example.com"]}),
            OpenApiExample("Settings", response_only=True, value=SETTINGS_EXAMPLE),
        ],
    )
    def patch(self, request):
        data = self.validated(TenantSettingsUpdateSerializer)
        changes = {name: data[name] for name in ("on_failure", "limits", "outbound_allowlist") if name in data}
        if "on_failure" in changes:
            changes["on_failure"] = changes["on_failure"] or {}
        if changes:
            UpdateTenantSettings(self.tenant, self.actor, **changes).execute()
            self.tenant.refresh_from_db()
        return Response(settings_data(self.tenant))
