"""GET /api/v1/audit: the tenant's audit trail, newest first (read-only: it is append-only)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import CursorPagination

from circuits.tenancy.models.audit import AuditEntry
from circuits.tenancy.roles import Perm
from circuits.web.api.views.base import ApiView

TAG = ["audit"]


class AuditCursorPagination(CursorPagination):
    ordering = ("-created_at", "-pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class AuditFilterSerializer(serializers.Serializer):
    """Query parameters of GET /api/v1/audit (others, like cursor and page_size, are the pager's)."""

    actor = serializers.CharField(required=False, max_length=150, help_text="Username of the acting user (with or without an API key).")
    action = serializers.CharField(required=False, max_length=64, help_text="e.g. version.published")
    object_type = serializers.CharField(required=False, max_length=32, help_text="circuit, circuit_grant, version, trigger, member, tenant, …")
    object_id = serializers.CharField(required=False, max_length=64)
    created_after = serializers.DateTimeField(required=False, help_text="ISO 8601; inclusive.")
    created_before = serializers.DateTimeField(required=False, help_text="ISO 8601; exclusive.")


class AuditEntrySerializer(serializers.ModelSerializer):
    actor_user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True, help_text="The acting user (null: the platform itself).")
    actor_key = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True, help_text="The API key the user acted through, if any.")

    class Meta:
        model = AuditEntry
        fields = ["id", "created_at", "actor", "actor_user", "actor_key", "action", "object_type", "object_id", "object_repr", "before", "after", "request_id"]
        read_only_fields = fields


AUDIT_EXAMPLE = OpenApiExample(
    "Entry",
    response_only=True,
    value={
        "next": None,
        "previous": None,
        "results": [
            {
                "id": 41,
                "created_at": "2026-01-07T10:00:00Z",
                "actor": "editor@acme.test",
                "actor_user": "editor@acme.test",
                "actor_key": None,
                "action": "version.published",
                "object_type": "version",
                "object_id": "12",
                "object_repr": "lead-scoring v3",
                "before": {"id": 12, "number": 3, "status": "draft"},
                "after": {"id": 12, "number": 3, "status": "published"},
                "request_id": "4f1c2a…",
            }
        ],
    },
)


def filter_entries(queryset, filters: dict):
    if "actor" in filters:
        queryset = queryset.filter(actor_user__username=filters["actor"])
    for name in ("action", "object_type", "object_id"):
        if name in filters:
            queryset = queryset.filter(**{name: filters[name]})
    if "created_after" in filters:
        queryset = queryset.filter(created_at__gte=filters["created_after"])
    if "created_before" in filters:
        queryset = queryset.filter(created_at__lt=filters["created_before"])
    return queryset


@extend_schema(tags=TAG)
class AuditListView(ApiView):
    perms = {"GET": Perm.MANAGE_SETTINGS}
    serializer_class = AuditEntrySerializer
    pagination_class = AuditCursorPagination

    def get_queryset(self):
        filters = self.validated(AuditFilterSerializer, data=self.request.query_params.dict())
        return filter_entries(AuditEntry.objects.for_tenant(self.tenant).select_related("actor_user", "actor_key"), filters)

    @extend_schema(
        summary="The tenant's audit trail: who changed what, before and after (newest first, cursor-paginated)",
        description="Owners and admins. Entries are append-only; credentials' entries never hold their secrets.",
        parameters=[AuditFilterSerializer, OpenApiParameter("page_size", OpenApiTypes.INT, description="At most 200.")],
        examples=[AUDIT_EXAMPLE],
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
