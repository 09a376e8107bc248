"""The tenant's settings exposed in the API: for now its default failure policy."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from circuits.automation.services.tenant_settings import UpdateTenantSettings
from circuits.tenancy.roles import Perm
from circuits.web.api.serializers.circuits import FailurePolicyField
from circuits.web.api.serializers.common import StrictSerializer
from circuits.web.api.views.base import ApiView

TAG = ["tenant"]
POLICY = {"notify": ["admins"], "emails": ["ops@acme.test"], "slack": "ops-alerts", "error_circuit": "on-error", "digest_minutes": 15}


class TenantSettingsSerializer(serializers.Serializer):
    on_failure = FailurePolicyField(read_only=True, help_text="The failure policy of circuits without one of their own ({} = nothing).")


class TenantSettingsUpdateSerializer(StrictSerializer):
    on_failure = FailurePolicyField(required=False, help_text="The default failure policy; {} = nothing on failure.")


def settings_data(tenant) -> dict:
    return {"on_failure": tenant.on_failure or {}}


@extend_schema(tags=TAG)
class TenantSettingsView(ApiView):
    perms = {"GET": Perm.VIEW, "PATCH": Perm.MANAGE_SETTINGS}
    serializer_class = TenantSettingsSerializer

    @extend_schema(summary="Read the tenant's settings", examples=[OpenApiExample("Settings", response_only=True, value={"on_failure": POLICY})])
    def get(self, request):
        return Response(settings_data(self.tenant))

    @extend_schema(
        summary="Change the tenant's default failure policy",
        description=(
            "Applies to every circuit whose own `on_failure` is null. Names are checked in this tenant (members, a slack_webhook "
            "credential, the error circuit); a 400 names the part that is wrong and nothing is saved."
        ),
        request=TenantSettingsUpdateSerializer,
        examples=[
            OpenApiExample("Default policy", request_only=True, value={"on_failure": {"notify": ["admins"], "digest_minutes": 30}}),
            OpenApiExample("Settings", response_only=True, value={"on_failure": POLICY}),
        ],
    )
    def patch(self, request):
        data = self.validated(TenantSettingsUpdateSerializer)
        if "on_failure" in data:
            UpdateTenantSettings(self.tenant, self.actor, on_failure=data["on_failure"] or {}).execute()
            self.tenant.refresh_from_db()
        return Response(settings_data(self.tenant))
