"""Circuits: list, create, read, change, delete, enable/disable, import and export."""

from __future__ import annotations

from django.db.models import OuterRef, Q, Subquery
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.version import CircuitVersion, VersionStatus
from circuits.automation.services.circuits import CreateCircuit, DeleteCircuit, SetCircuitEnabled, UpdateCircuit
from circuits.automation.services.versions import ImportCircuit, export_circuit
from circuits.core.numbers import finite_number
from circuits.tenancy.roles import Perm
from circuits.web.api.pagination import PagePagination
from circuits.web.api.serializers.circuits import CircuitCreateSerializer, CircuitSerializer, CircuitUpdateSerializer, ImportSerializer
from circuits.web.api.serializers.common import MAX_INT, EmptySerializer
from circuits.web.api.views.base import CIRCUIT_NAME, ApiView

TAG = ["circuits"]
CIRCUIT_EXAMPLE = OpenApiExample(
    "A circuit",
    response_only=True,
    value={
        "slug": "lead-scoring",
        "name": "Lead scoring",
        "description": "Scores new leads and alerts sales.",
        "enabled": True,
        "tags": ["sales"],
        "on_failure": {"notify": ["owner"], "slack": "ops-alerts", "error_circuit": "on-error", "digest_minutes": 15},
        "owner": "owner@acme.test",
        "published_version": 3,
        "draft_revision": None,
        "created_at": "2025-01-06T09:30:00Z",
        "updated_at": "2025-01-07T10:00:00Z",
    },
)


def with_versions(queryset):
    """Published version number and draft revision in the same query (no N+1 in lists)."""
    versions = CircuitVersion.objects.filter(circuit=OuterRef("pk"))
    return queryset.annotate(
        published_version=Subquery(versions.filter(status=VersionStatus.PUBLISHED).values("number")[:1]),
        draft_revision=Subquery(versions.filter(status=VersionStatus.DRAFT).values("revision")[:1]),
    ).select_related("owner")


def circuit_data(view: ApiView, circuit: Circuit) -> dict:
    fresh = with_versions(Circuit.objects.for_tenant(view.tenant)).get(pk=circuit.pk)
    return CircuitSerializer(fresh, context=view.get_serializer_context()).data


@extend_schema(tags=TAG)
class CircuitListView(ApiView):
    perms = {"GET": Perm.VIEW, "POST": Perm.EDIT}
    serializer_class = CircuitSerializer
    pagination_class = PagePagination

    def get_queryset(self):
        qs = with_versions(self.circuits())
        params = self.request.query_params
        if params.get("enabled") in ("true", "false"):
            qs = qs.filter(enabled=params["enabled"] == "true")
        search = params.get("search", "").replace("\x00", "").strip()
        if search:
            qs = qs.filter(Q(name__icontains=search) | Q(slug__icontains=search))
        return qs.order_by("name", "pk")

    @extend_schema(
        summary="List circuits",
        parameters=[
            OpenApiParameter("enabled", OpenApiTypes.BOOL, description="Only enabled (true) or disabled (false) circuits."),
            OpenApiParameter("search", OpenApiTypes.STR, description="Part of the name or slug."),
        ],
        examples=[CIRCUIT_EXAMPLE],
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Create a circuit",
        request=CircuitCreateSerializer,
        responses={201: CircuitSerializer},
        examples=[OpenApiExample("New circuit", request_only=True, value={"name": "Lead scoring", "tags": ["sales"]}), CIRCUIT_EXAMPLE],
    )
    def post(self, request):
        data = self.validated(CircuitCreateSerializer)
        circuit = CreateCircuit(self.tenant, self.actor, **data).execute()
        return Response(circuit_data(self, circuit), status=status.HTTP_201_CREATED)


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class CircuitDetailView(ApiView):
    perms = {"GET": Perm.VIEW}  # changes are checked on the circuit itself (object grants count)
    serializer_class = CircuitSerializer

    @extend_schema(summary="Read a circuit", examples=[CIRCUIT_EXAMPLE])
    def get(self, request, name: str):
        return Response(circuit_data(self, self.get_circuit(name)))

    @extend_schema(
        summary="Change a circuit's name, description, tags, enabled flag or failure policy",
        description=(
            "`on_failure`: whom to notify in the app (owner, admins, editors or usernames of members), members' e-mail addresses, "
            "a Slack webhook credential, an error circuit to start with the failed execution as its payload, and the digest window "
            "(one alert per window; the next says how many more failed). Every name is checked in this tenant: a 400 names the part "
            "that is wrong and nothing is saved. null = the tenant's default (GET /api/v1/tenant/settings)."
        ),
        request=CircuitUpdateSerializer,
        examples=[
            OpenApiExample("Rename", request_only=True, value={"name": "Lead scoring v2", "tags": ["sales", "ai"]}),
            OpenApiExample(
                "On failure", request_only=True, value={"on_failure": {"notify": ["owner", "admins"], "emails": ["ops@acme.test"], "error_circuit": "on-error"}}
            ),
            CIRCUIT_EXAMPLE,
        ],
    )
    def patch(self, request, name: str):
        circuit = self.get_circuit(name)
        changes = self.validated(CircuitUpdateSerializer)
        UpdateCircuit(self.tenant, self.actor, circuit, **changes).execute()
        return Response(circuit_data(self, circuit))

    @extend_schema(summary="Delete a circuit with its versions, triggers and executions", request=None, responses={204: None})
    def delete(self, request, name: str):
        DeleteCircuit(self.tenant, self.actor, self.get_circuit(name)).execute()
        return Response(status=status.HTTP_204_NO_CONTENT)


class _SetEnabledView(ApiView):
    perms = {}
    enabled: bool
    serializer_class = CircuitSerializer

    def post(self, request, name: str):
        circuit = self.get_circuit(name)
        self.validated(EmptySerializer)
        SetCircuitEnabled(self.tenant, self.actor, circuit, self.enabled).execute()
        return Response(circuit_data(self, circuit))


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class CircuitEnableView(_SetEnabledView):
    enabled = True

    @extend_schema(summary="Enable a circuit (its triggers fire again)", request=EmptySerializer, examples=[CIRCUIT_EXAMPLE])
    def post(self, request, name: str):
        return super().post(request, name)


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class CircuitDisableView(_SetEnabledView):
    enabled = False

    @extend_schema(
        summary="Disable a circuit (its triggers stop firing)",
        request=EmptySerializer,
        examples=[OpenApiExample("Disabled", response_only=True, value={**CIRCUIT_EXAMPLE.value, "enabled": False})],
    )
    def post(self, request, name: str):
        return super().post(request, name)


EXPORT_EXAMPLE = {
    "format": "circuitos.circuit/v1",
    "name": "Lead scoring",
    "slug": "lead-scoring",
    "description": "",
    "tags": ["sales"],
    "triggers": [{"type": "event", "config": {"event": "lead.created"}, "enabled": True}],
    "version": 3,
    "nodes": [{"key": "greet", "action": "util.transform", "label": "", "config": {"template": {"greeting": "hi"}}, "position": {"x": 0, "y": 0}}],
    "edges": [{"source": "trigger", "port": "next", "target": "greet"}],
}


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class CircuitExportView(ApiView):
    @extend_schema(
        summary="Export a circuit as a document (format circuitos.circuit/v1)",
        parameters=[OpenApiParameter("version", OpenApiTypes.INT, description="A version number (default: the draft, else the published one).")],
        responses={200: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Document", response_only=True, value=EXPORT_EXAMPLE)],
    )
    def get(self, request, name: str):
        circuit = self.get_circuit(name)
        number = request.query_params.get("version")
        version = None
        if number is not None:
            try:
                wanted = finite_number(number, integer=True, minimum=1, maximum=MAX_INT)
            except ValueError:
                raise ValidationError({"version": ["A version number (a whole number ≥ 1)."]}) from None
            version = circuit.versions.filter(number=wanted).first()
            if version is None:
                raise Http404(f"Circuit {name!r} has no version {number}.")
        return Response(export_circuit(circuit, version))


@extend_schema(tags=TAG)
class CircuitImportView(ApiView):
    perms = {"POST": Perm.EDIT}
    serializer_class = CircuitSerializer

    @extend_schema(
        summary="Import a circuit from an exported document (creates the circuit, its triggers and a draft)",
        request=ImportSerializer,
        responses={201: CircuitSerializer},
        examples=[OpenApiExample("Import", request_only=True, value={"document": EXPORT_EXAMPLE, "slug": "lead-scoring-copy"}), CIRCUIT_EXAMPLE],
    )
    def post(self, request):
        data = self.validated(ImportSerializer)
        circuit = ImportCircuit(self.tenant, self.actor, data["document"], slug=data.get("slug"), name=data.get("name")).execute()
        return Response(circuit_data(self, circuit), status=status.HTTP_201_CREATED)
