"""Object grants on a circuit: share one circuit with a member beyond their role (django-guardian)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from circuits.automation.services.grants import GRANTABLE, GrantCircuitPermission, RevokeCircuitPermission, circuit_grants
from circuits.tenancy.roles import Perm
from circuits.web.api.serializers.common import StrictSerializer
from circuits.web.api.serializers.tenant import UserSerializer
from circuits.web.api.views.base import CIRCUIT_NAME, ApiView

TAG = ["circuits"]
GRANT = {"user": {"id": 7, "username": "ops@acme.test", "email": "ops@acme.test"}, "permissions": ["view", "run"]}


class GrantSerializer(serializers.Serializer):
    user = UserSerializer(read_only=True)
    permissions = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=f"Some of {', '.join(GRANTABLE)}.")


class GrantWriteSerializer(StrictSerializer):
    user = serializers.IntegerField(min_value=1, help_text="The member's user id (`user.id` in /members).")
    permission = serializers.ChoiceField(choices=GRANTABLE, help_text="What the grant allows on this circuit, beyond the member's role.")


def grants_body(circuit) -> list[dict]:
    return GrantSerializer(circuit_grants(circuit), many=True).data


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class GrantListView(ApiView):
    perms = {"GET": Perm.VIEW, "POST": Perm.MANAGE_MEMBERS}
    serializer_class = GrantSerializer

    @extend_schema(
        summary="List the object grants on a circuit (who may do what beyond their role)",
        responses={200: GrantSerializer(many=True)},
        examples=[OpenApiExample("Grants", response_only=True, value=[GRANT])],
    )
    def get(self, request, name: str):
        return Response(grants_body(self.get_circuit(name)))

    @extend_schema(
        summary="Grant a member one permission on this circuit (owners and admins)",
        description=(
            "The member keeps their role everywhere else; on this circuit they may also `view`, `edit`, `publish` or `run`. Only "
            "members of the tenant can hold a grant (a removed member's grants are dropped). Granting twice changes nothing. "
            "The answer is the circuit's grants after the change."
        ),
        request=GrantWriteSerializer,
        responses={201: OpenApiResponse(GrantSerializer(many=True), description="The circuit's grants.")},
        examples=[
            OpenApiExample("Let an operator edit", request_only=True, value={"user": 7, "permission": "edit"}),
            OpenApiExample("Grants", response_only=True, status_codes=[201], value=[{**GRANT, "permissions": ["view", "edit", "run"]}]),
        ],
    )
    def post(self, request, name: str):
        circuit = self.get_circuit(name)
        data = self.validated(GrantWriteSerializer)
        GrantCircuitPermission(self.tenant, self.actor, circuit, user_id=data["user"], permission=data["permission"]).execute()
        return Response(grants_body(circuit), status=status.HTTP_201_CREATED)


@extend_schema(
    tags=TAG,
    parameters=[
        CIRCUIT_NAME,
        OpenApiParameter("user", OpenApiTypes.INT, OpenApiParameter.PATH, description="The member's user id."),
        OpenApiParameter("permission", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(GRANTABLE)),
    ],
)
class GrantDetailView(ApiView):
    perms = {"DELETE": Perm.MANAGE_MEMBERS}
    serializer_class = GrantSerializer

    @extend_schema(
        summary="Revoke one grant on this circuit (owners and admins); a grant that does not exist is a 400",
        request=None,
        responses={200: OpenApiResponse(GrantSerializer(many=True), description="The circuit's grants after the change.")},
        examples=[OpenApiExample("Grants", response_only=True, value=[{**GRANT, "permissions": ["view"]}])],
    )
    def delete(self, request, name: str, user: int, permission: str):
        circuit = self.get_circuit(name)
        RevokeCircuitPermission(self.tenant, self.actor, circuit, user_id=user, permission=permission).execute()
        return Response(grants_body(circuit))
