"""Business records per object type (with field filters), and the object types themselves."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from circuits.core.numbers import finite_number
from circuits.records.models import Record
from circuits.records.query import MAX_LIMIT, OPS, query_records, record_to_dict
from circuits.records.service import CreateRecord, DefineObjectType, DeleteRecord, UpdateRecord, UpsertRecord
from circuits.records.types import ObjectTypeDef, get_type, list_types
from circuits.tenancy.roles import Perm
from circuits.web.api.serializers.records import ObjectTypeSerializer, ObjectTypeWriteSerializer, RecordPageSerializer, RecordSerializer, UpsertSerializer
from circuits.web.api.views.base import ApiView, id_param

TAG = ["records"]
OBJECT_TYPE = OpenApiParameter(
    "object_type", OpenApiTypes.STR, OpenApiParameter.PATH, description="lead, account, contact, opportunity, task or a custom type."
)
RESERVED = ("order_by", "limit", "offset")
LEAD = {
    "id": 31,
    "object_type": "lead",
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "score": 80,
    "created_at": "2025-01-07T10:00:00Z",
    "updated_at": "2025-01-07T10:00:00Z",
}
RECORD_EXAMPLE = OpenApiExample("A lead", response_only=True, value=LEAD)
TYPE_EXAMPLE = OpenApiExample(
    "Subscription",
    response_only=True,
    value={
        "slug": "subscription",
        "label": "Subscription",
        "builtin": False,
        "description": "",
        "fields": [{"name": "plan", "type": "choice", "label": "Plan", "required": True, "choices": ["free", "pro"]}],
        "schema": {"type": "object", "properties": {"plan": {"title": "Plan", "type": "string", "enum": ["free", "pro"]}}, "required": ["plan"]},
    },
)


def _type(view: ApiView, slug: str) -> ObjectTypeDef:
    try:
        return get_type(view.tenant, slug)
    except DjangoValidationError:
        raise Http404(f"No object type {slug!r}.") from None


def _filters(params) -> list[dict]:
    """`?score__gte=50&status=new&email__icontains=acme&stage__in=a,b` → [{field, op, value}]."""
    out = []
    for name, value in params.items():
        if name in RESERVED or name in ("page", "page_size"):
            continue
        field, _, op = name.partition("__")
        op = op or "eq"
        if op not in OPS:
            raise ValidationError({name: [f"Unknown filter op {op!r}; use one of {', '.join(OPS)}."]})
        out.append({"field": field, "op": op, "value": value.split(",") if op == "in" else value})
    return out


def _int_param(params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        return int(finite_number(raw, integer=True, minimum=low, maximum=high))
    except ValueError:
        raise ValidationError({name: [f"A whole number from {low} to {high}."]}) from None


@extend_schema(tags=TAG)
class ObjectTypeListView(ApiView):
    serializer_class = ObjectTypeSerializer

    @extend_schema(
        summary="The object types: built-in and the tenant's own, each with its fields and JSON Schema",
        responses={200: ObjectTypeSerializer(many=True)},
        examples=[TYPE_EXAMPLE],
    )
    def get(self, request):
        return Response([t.describe() for t in list_types(self.tenant)])


@extend_schema(tags=TAG, parameters=[OBJECT_TYPE])
class ObjectTypeDetailView(ApiView):
    perms = {"GET": Perm.VIEW, "PUT": Perm.MANAGE_SETTINGS}
    serializer_class = ObjectTypeSerializer

    @extend_schema(summary="One object type", examples=[TYPE_EXAMPLE])
    def get(self, request, object_type: str):
        return Response(_type(self, object_type).describe())

    @extend_schema(
        summary="Define or change a custom object type (owners and admins)",
        request=ObjectTypeWriteSerializer,
        examples=[
            OpenApiExample(
                "Define",
                request_only=True,
                value={"label": "Subscription", "fields": [{"name": "plan", "type": "choice", "choices": ["free", "pro"], "required": True}]},
            ),
            TYPE_EXAMPLE,
        ],
    )
    def put(self, request, object_type: str):
        data = self.validated(ObjectTypeWriteSerializer)
        DefineObjectType(self.tenant, self.actor, object_type, data["label"], request.data["fields"]).execute()
        return Response(_type(self, object_type).describe())


@extend_schema(tags=TAG, parameters=[OBJECT_TYPE])
class RecordListView(ApiView):
    perms = {"GET": Perm.VIEW, "POST": Perm.EDIT}
    serializer_class = RecordSerializer

    @extend_schema(
        operation_id="records_list",
        summary="Query records of a type",
        description=(
            "Filter with query parameters named after fields: `?status=new` (equal) or `?<field>__<op>=<value>` with op one of "
            f"{', '.join(OPS)} (`in` takes comma-separated values, `is_null` true/false). `order_by=-score,created_at`; "
            "`limit` (≤ 1000) and `offset` page through the results."
        ),
        parameters=[
            OpenApiParameter("order_by", OpenApiTypes.STR, description="Comma-separated fields, '-' for descending."),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"1-{MAX_LIMIT}, default 50."),
            OpenApiParameter("offset", OpenApiTypes.INT, description="Default 0."),
        ],
        responses={200: RecordPageSerializer},
        examples=[OpenApiExample("Page", response_only=True, value={"count": 1, "next": None, "previous": None, "results": [LEAD]})],
    )
    def get(self, request, object_type: str):
        type_def = _type(self, object_type)
        params = request.query_params
        limit = _int_param(params, "limit", 50, 1, MAX_LIMIT)
        offset = _int_param(params, "offset", 0, 0, 10**9)
        order_by = [k for k in params.get("order_by", "").split(",") if k.strip()]
        result = query_records(self.tenant, type_def.slug, _filters(params), order_by, limit, offset)
        url = request.build_absolute_uri()
        following = replace_query_param(url, "offset", offset + limit) if offset + limit < result.total else None
        previous = None
        if offset > 0:
            previous = remove_query_param(url, "offset") if offset - limit <= 0 else replace_query_param(url, "offset", offset - limit)
        return Response({"count": result.total, "next": following, "previous": previous, "results": [record_to_dict(r) for r in result.records]})

    @extend_schema(
        summary="Create a record (the body is its fields; unknown fields are refused by name)",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={201: RecordSerializer},
        examples=[
            OpenApiExample("New lead", request_only=True, value={"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "score": 80}),
            RECORD_EXAMPLE,
        ],
    )
    def post(self, request, object_type: str):
        type_def = _type(self, object_type)
        record = CreateRecord(self.tenant, self.actor, type_def.slug, request.data).execute()
        return Response(record_to_dict(record), status=status.HTTP_201_CREATED)


@extend_schema(tags=TAG, parameters=[OBJECT_TYPE])
class RecordUpsertView(ApiView):
    perms = {"POST": Perm.EDIT}
    serializer_class = RecordSerializer

    @extend_schema(
        summary="Update the record matching `match_on`, or create it",
        request=UpsertSerializer,
        responses={200: OpenApiResponse(RecordSerializer, description="Updated."), 201: OpenApiResponse(RecordSerializer, description="Created.")},
        examples=[
            OpenApiExample("Upsert", request_only=True, value={"match_on": ["email"], "data": {"email": "ada@example.com", "score": 90}}),
            RECORD_EXAMPLE,
        ],
    )
    def post(self, request, object_type: str):
        type_def = _type(self, object_type)
        data = self.validated(UpsertSerializer)
        record, created = UpsertRecord(self.tenant, self.actor, type_def.slug, data["match_on"], request.data["data"]).execute()
        return Response(record_to_dict(record), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(tags=TAG, parameters=[OBJECT_TYPE, id_param("id", "record")])
class RecordDetailView(ApiView):
    perms = {"GET": Perm.VIEW}  # writes are checked on the record by the services
    serializer_class = RecordSerializer

    def get_record(self, object_type: str, pk: int) -> Record:
        type_def = _type(self, object_type)
        record = Record.objects.restrict(self.actor, Perm.VIEW, self.tenant).filter(object_type=type_def.slug, pk=pk).first()
        if record is None:
            raise Http404(f"No {type_def.slug} {pk}.")
        return record

    @extend_schema(summary="Read a record", examples=[RECORD_EXAMPLE])
    def get(self, request, object_type: str, id: int):
        return Response(record_to_dict(self.get_record(object_type, id)))

    @extend_schema(
        summary='Change some fields (null or "" clears a field)',
        request={"application/json": OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Rescore", request_only=True, value={"score": 95}), RECORD_EXAMPLE],
    )
    def patch(self, request, object_type: str, id: int):
        record = self.get_record(object_type, id)
        record = UpdateRecord(self.tenant, self.actor, record, request.data).execute()
        return Response(record_to_dict(record))

    @extend_schema(summary="Delete a record", request=None, responses={204: None})
    def delete(self, request, object_type: str, id: int):
        DeleteRecord(self.tenant, self.actor, self.get_record(object_type, id)).execute()
        return Response(status=status.HTTP_204_NO_CONTENT)
