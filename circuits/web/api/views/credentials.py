"""Credentials: names and kinds are readable, secrets are write-only (encrypted, never shown again)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from circuits.automation.services.tenant_settings import DeleteCredential, SaveCredential
from circuits.tenancy.models.access import Credential
from circuits.tenancy.roles import Perm
from circuits.web.api.pagination import PagePagination
from circuits.web.api.serializers.tenant import CredentialReplaceSerializer, CredentialSerializer, CredentialWriteSerializer
from circuits.web.api.views.base import ApiView

TAG = ["credentials"]
NAME = OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="The credential's name.")
CREDENTIAL_EXAMPLE = OpenApiExample(
    "A credential",
    response_only=True,
    value={
        "name": "crm-token",
        "kind": "http_bearer",
        "description": "CRM API",
        "created_by": "owner@acme.test",
        "created_at": "2025-01-06T09:30:00Z",
        "updated_at": "2025-01-06T09:30:00Z",
    },
)


@extend_schema(tags=TAG)
class CredentialListView(ApiView):
    perms = {"GET": Perm.VIEW, "POST": Perm.MANAGE_SETTINGS}
    serializer_class = CredentialSerializer
    pagination_class = PagePagination

    def get_queryset(self):
        return Credential.objects.restrict(self.actor, Perm.VIEW, self.tenant).select_related("created_by").order_by("name")

    @extend_schema(summary="List credentials (without their secrets)", examples=[CREDENTIAL_EXAMPLE])
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Create a credential (owners and admins)",
        request=CredentialWriteSerializer,
        responses={201: CredentialSerializer},
        examples=[
            OpenApiExample("Bearer token", request_only=True, value={"name": "crm-token", "kind": "http_bearer", "secret": {"token": "s3cr3t"}}),
            CREDENTIAL_EXAMPLE,
        ],
    )
    def post(self, request):
        data = self.validated(CredentialWriteSerializer)
        if Credential.objects.for_tenant(self.tenant).filter(name=data["name"]).exists():
            raise ValidationError({"name": [f"A credential {data['name']!r} exists already; PUT /api/v1/credentials/{data['name']} replaces it."]})
        credential = SaveCredential(self.tenant, self.actor, **data).execute()
        return Response(CredentialSerializer(credential).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAG, parameters=[NAME])
class CredentialDetailView(ApiView):
    perms = {"GET": Perm.VIEW, "PUT": Perm.MANAGE_SETTINGS, "DELETE": Perm.MANAGE_SETTINGS}
    serializer_class = CredentialSerializer

    def get_credential(self, name: str) -> Credential:
        credential = Credential.objects.restrict(self.actor, Perm.VIEW, self.tenant).select_related("created_by").filter(name=name).first()
        if credential is None:
            raise Http404(f"No credential {name!r}.")
        return credential

    @extend_schema(summary="Read a credential (without its secret)", examples=[CREDENTIAL_EXAMPLE])
    def get(self, request, name: str):
        return Response(CredentialSerializer(self.get_credential(name)).data)

    @extend_schema(
        summary="Replace a credential's secret (and kind/description)",
        request=CredentialReplaceSerializer,
        examples=[OpenApiExample("Rotate", request_only=True, value={"kind": "http_bearer", "secret": {"token": "n3w-s3cr3t"}}), CREDENTIAL_EXAMPLE],
    )
    def put(self, request, name: str):
        self.get_credential(name)
        data = self.validated(CredentialReplaceSerializer)
        credential = SaveCredential(self.tenant, self.actor, name=name, **data).execute()
        return Response(CredentialSerializer(credential).data)

    @extend_schema(summary="Delete a credential", request=None, responses={204: None})
    def delete(self, request, name: str):
        DeleteCredential(self.tenant, self.actor, self.get_credential(name)).execute()
        return Response(status=status.HTTP_204_NO_CONTENT)
