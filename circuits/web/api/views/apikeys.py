"""API keys of the tenant: created (the key is shown once), listed, revoked. Owners and admins."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from circuits.tenancy.models.access import ApiKey
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.apikeys import CreateApiKey, RevokeApiKey
from circuits.web.api.pagination import PagePagination
from circuits.web.api.serializers.common import EmptySerializer
from circuits.web.api.serializers.tenant import ApiKeyCreatedSerializer, ApiKeyCreateSerializer, ApiKeySerializer
from circuits.web.api.views.base import ApiView, id_param

TAG = ["api keys"]
KEY = {
    "id": 3,
    "name": "ci",
    "prefix": "cos_Xk2p9aQ1",
    "role": "operator",
    "user": "owner@acme.test",
    "created_by": "owner@acme.test",
    "created_at": "2025-01-06T09:30:00Z",
    "expires_at": None,
    "revoked_at": None,
    "last_used_at": None,
    "active": True,
}
KEY_EXAMPLE = OpenApiExample("A key", response_only=True, value=KEY)


def find_member(tenant, identifier: str):
    """A member of `tenant` by username or e-mail (the user a key acts as)."""
    users = get_user_model().objects.filter(memberships__tenant=tenant)
    user = users.filter(email__iexact=identifier).order_by("pk").first() if "@" in identifier else None
    user = user or users.filter(username=identifier).first()
    if user is None:
        raise ValidationError({"user": [f"No member {identifier!r} in this tenant."]})
    return user


@extend_schema(tags=TAG)
class ApiKeyListView(ApiView):
    perms = {"GET": Perm.MANAGE_SETTINGS, "POST": Perm.MANAGE_SETTINGS}
    serializer_class = ApiKeySerializer
    pagination_class = PagePagination

    def get_queryset(self):
        return ApiKey.objects.restrict(self.actor, Perm.MANAGE_SETTINGS, self.tenant).select_related("user", "created_by").order_by("-created_at", "-pk")

    @extend_schema(summary="List API keys (never the keys themselves)", examples=[KEY_EXAMPLE])
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Create an API key; the answer carries the key, shown this once",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
        examples=[
            OpenApiExample("Create", request_only=True, value={"name": "ci", "role": "operator", "expires_at": "2026-01-01T00:00:00Z"}),
            OpenApiExample("Created", response_only=True, value={**KEY, "key": "cos_Xk2p9aQ1…"}),
        ],
    )
    def post(self, request):
        data = self.validated(ApiKeyCreateSerializer)
        user = find_member(self.tenant, data["user"]) if data.get("user") else self.actor
        service = CreateApiKey(self.tenant, self.actor, name=data["name"], role=data["role"], user=user, expires_at=data.get("expires_at"))
        key = service.execute()
        key = ApiKey.objects.select_related("user", "created_by").get(pk=key.pk)
        key.key = service.raw_key
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)


class _ApiKeyObjectView(ApiView):
    serializer_class = ApiKeySerializer

    def get_key(self, pk: int) -> ApiKey:
        key = ApiKey.objects.restrict(self.actor, Perm.MANAGE_SETTINGS, self.tenant).select_related("user", "created_by").filter(pk=pk).first()
        if key is None:
            raise Http404(f"No API key {pk}.")
        return key


@extend_schema(tags=TAG, parameters=[id_param("id", "API key")])
class ApiKeyDetailView(_ApiKeyObjectView):
    perms = {"GET": Perm.MANAGE_SETTINGS}

    @extend_schema(summary="Read an API key's details", examples=[KEY_EXAMPLE])
    def get(self, request, id: int):
        return Response(ApiKeySerializer(self.get_key(id)).data)


@extend_schema(tags=TAG, parameters=[id_param("id", "API key")])
class ApiKeyRevokeView(_ApiKeyObjectView):
    perms = {"POST": Perm.MANAGE_SETTINGS}

    @extend_schema(
        summary="Revoke an API key (it stops working at once)",
        request=EmptySerializer,
        examples=[OpenApiExample("Revoked", response_only=True, value={**KEY, "revoked_at": "2025-01-08T12:00:00Z", "active": False})],
    )
    def post(self, request, id: int):
        key = self.get_key(id)
        self.validated(EmptySerializer)
        RevokeApiKey(self.tenant, self.actor, key).execute()
        return Response(ApiKeySerializer(key).data)
