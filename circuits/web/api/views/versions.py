"""Versions of a circuit: the draft (nodes and edges as one document), validate, publish, roll back, diff."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from circuits.automation.models.version import CircuitVersion, VersionStatus
from circuits.automation.services.versions import PublishDraft, Rollback, SaveDraft, validate_document, validate_version
from circuits.tenancy.roles import Perm
from circuits.web.api.pagination import PagePagination
from circuits.web.api.serializers.circuits import (
    DraftSaveSerializer,
    PublishSerializer,
    RollbackSerializer,
    ValidateRequestSerializer,
    ValidationResultSerializer,
    VersionDetailSerializer,
    VersionSerializer,
)
from circuits.web.api.views.base import CIRCUIT_NAME, ApiView
from circuits.web.views.builder.services import diff_versions

TAG = ["versions"]
NUMBER = OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH, description="The version number.")
DOCUMENT = {
    "nodes": [
        {"key": "score", "action": "util.transform", "config": {"template": {"score": "{{ trigger.score }}"}}, "position": {"x": 200, "y": 80}},
        {"key": "notify", "action": "notify.inapp", "config": {"title": "New lead {{ trigger.email }}"}, "position": {"x": 420, "y": 80}},
    ],
    "edges": [{"source": "trigger", "port": "next", "target": "score"}, {"source": "score", "port": "next", "target": "notify"}],
}
VERSION_EXAMPLE = OpenApiExample(
    "A version",
    response_only=True,
    value={
        "number": 4,
        "status": "draft",
        "revision": 2,
        "note": "",
        "created_by": "editor@acme.test",
        "created_at": "2025-01-07T10:00:00Z",
        "updated_at": "2025-01-07T10:05:00Z",
        "published_at": None,
        **DOCUMENT,
        "ports": {"score": ["next", "error"], "notify": ["next", "error"]},
    },
)


def _summary(version: dict) -> dict:
    return {k: v for k, v in version.items() if k not in ("nodes", "edges", "ports")}


def _draft(circuit) -> CircuitVersion:
    draft = circuit.versions.filter(status=VersionStatus.DRAFT).select_related("created_by").first()
    if draft is None:
        raise Http404(f"Circuit {circuit.slug!r} has no draft.")
    return draft


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class VersionListView(ApiView):
    serializer_class = VersionSerializer
    pagination_class = PagePagination

    @extend_schema(
        summary="List a circuit's versions (newest first)",
        examples=[OpenApiExample("Versions", response_only=True, value=[_summary(VERSION_EXAMPLE.value)])],
    )
    def get(self, request, name: str):
        circuit = self.get_circuit(name)
        page = self.paginate_queryset(circuit.versions.select_related("created_by").order_by("-number"))
        return self.get_paginated_response(VersionSerializer(page, many=True).data)


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME, NUMBER])
class VersionDetailView(ApiView):
    serializer_class = VersionDetailSerializer

    @extend_schema(summary="Read one version with its nodes and edges", examples=[VERSION_EXAMPLE])
    def get(self, request, name: str, number: int):
        circuit = self.get_circuit(name)
        version = circuit.versions.select_related("created_by").filter(number=number).first()
        if version is None:
            raise Http404(f"Circuit {name!r} has no version {number}.")
        return Response(VersionDetailSerializer(version).data)


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class DraftView(ApiView):
    perms = {"GET": Perm.VIEW}  # saving is checked on the circuit (object grants count)
    serializer_class = VersionDetailSerializer

    @extend_schema(summary="Read the draft", examples=[VERSION_EXAMPLE])
    def get(self, request, name: str):
        return Response(VersionDetailSerializer(_draft(self.get_circuit(name))).data)

    @extend_schema(
        summary="Save the draft (the whole graph: nodes and edges); creates the draft if there is none",
        description="Send `base_revision` (the draft revision you started from): if someone saved since, the answer is 409 and nothing is saved.",
        request=DraftSaveSerializer,
        examples=[OpenApiExample("Save", request_only=True, value={**DOCUMENT, "base_revision": 1}), VERSION_EXAMPLE],
    )
    def put(self, request, name: str):
        circuit = self.get_circuit(name)
        data = self.validated(DraftSaveSerializer)
        base_revision = data.pop("base_revision", None)
        # The raw nodes/edges (after the field checks above) keep exactly what the caller sent.
        document = {"nodes": request.data["nodes"], "edges": request.data["edges"]}
        draft = SaveDraft(self.tenant, self.actor, circuit, document, base_revision=base_revision).execute()
        return Response(VersionDetailSerializer(draft).data)


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class DraftValidateView(ApiView):
    perms = {"POST": Perm.VIEW}  # read-only: whoever sees the circuit may check its draft
    serializer_class = ValidationResultSerializer

    @extend_schema(
        summary="Validate the draft (unknown actions, bad configs, dangling edges, cycles …) without publishing",
        description=(
            "An empty body checks the saved draft. A body with `nodes` and `edges` checks that document as the draft "
            "would be, without saving it (the builder asks before pasting steps); a document that could not be saved "
            "at all is a 400 naming what is wrong. `revision` is the saved draft's (0 when there is none)."
        ),
        request=ValidateRequestSerializer,
        examples=[
            OpenApiExample("A document to check", request_only=True, value=DOCUMENT),
            OpenApiExample(
                "Problems",
                response_only=True,
                value={"valid": False, "revision": 2, "errors": [{"message": "unknown action 'util.nope'", "node": "score", "field": "action"}]},
            ),
        ],
    )
    def post(self, request, name: str):
        circuit = self.get_circuit(name)
        data = self.validated(ValidateRequestSerializer)
        if "nodes" not in data:
            draft = _draft(circuit)
            errors = validate_version(draft)
            return Response({"valid": not errors, "revision": draft.revision, "errors": errors})
        draft = circuit.versions.filter(status=VersionStatus.DRAFT).first()
        # The raw nodes/edges (after the field checks above), as the draft's save keeps them.
        errors = validate_document({"nodes": request.data["nodes"], "edges": request.data["edges"]})
        return Response({"valid": not errors, "revision": draft.revision if draft else 0, "errors": errors})


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class PublishView(ApiView):
    perms = {}
    serializer_class = VersionSerializer

    @extend_schema(
        summary="Publish the draft (the previous published version is archived)",
        request=PublishSerializer,
        examples=[
            OpenApiExample("Publish", request_only=True, value={"note": "Adds the Slack alert"}),
            OpenApiExample(
                "Published", response_only=True, value={**_summary(VERSION_EXAMPLE.value), "status": "published", "published_at": "2025-01-07T10:06:00Z"}
            ),
        ],
    )
    def post(self, request, name: str):
        circuit = self.get_circuit(name)
        data = self.validated(PublishSerializer)
        version = PublishDraft(self.tenant, self.actor, circuit, note=data["note"]).execute()
        return Response(VersionSerializer(version).data)


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class RollbackView(ApiView):
    perms = {}
    serializer_class = VersionSerializer

    @extend_schema(
        summary="Publish an earlier version again",
        request=RollbackSerializer,
        examples=[
            OpenApiExample("Roll back", request_only=True, value={"version": 2}),
            OpenApiExample("Re-published", response_only=True, value={**_summary(VERSION_EXAMPLE.value), "number": 2, "status": "published"}),
        ],
    )
    def post(self, request, name: str):
        circuit = self.get_circuit(name)
        data = self.validated(RollbackSerializer)
        version = Rollback(self.tenant, self.actor, circuit, data["version"]).execute()
        return Response(VersionSerializer(version).data)


class _FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class _NodeChangeSerializer(serializers.Serializer):
    key = serializers.CharField()
    action = serializers.CharField()
    fields = _FieldChangeSerializer(many=True)


class _EdgeSerializer(serializers.Serializer):
    source = serializers.CharField()
    port = serializers.CharField()
    target = serializers.CharField()


class VersionDiffSerializer(serializers.Serializer):
    a = serializers.IntegerField(help_text="The version compared from.")
    b = serializers.IntegerField(help_text="The version compared to.")
    nodes_added = serializers.ListField(child=serializers.JSONField())
    nodes_removed = serializers.ListField(child=serializers.JSONField())
    nodes_changed = _NodeChangeSerializer(many=True)
    edges_added = _EdgeSerializer(many=True)
    edges_removed = _EdgeSerializer(many=True)


OTHER = OpenApiParameter("other", OpenApiTypes.INT, OpenApiParameter.PATH, description="The version number to compare to.")


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME, NUMBER, OTHER])
class VersionDiffView(ApiView):
    serializer_class = VersionDiffSerializer

    @extend_schema(
        summary="What changed from one version to another (the builder's diff)",
        description=(
            "Nodes added and removed (whole), nodes changed (per field: action, label, config, retry, timeout_seconds, on_error), "
            "edges added and removed. Positions are left out: moving a node changes nothing in how it runs."
        ),
        examples=[
            OpenApiExample(
                "A changed template",
                response_only=True,
                value={
                    "a": 2,
                    "b": 3,
                    "nodes_added": [],
                    "nodes_removed": [],
                    "nodes_changed": [
                        {"key": "score", "action": "util.transform", "fields": [{"field": "config", "before": {"template": 1}, "after": {"template": 2}}]}
                    ],
                    "edges_added": [],
                    "edges_removed": [],
                },
            )
        ],
    )
    def get(self, request, name: str, number: int, other: int):
        circuit = self.get_circuit(name)
        versions = {v.number: v for v in circuit.versions.filter(number__in=[number, other])}
        for wanted in (number, other):
            if wanted not in versions:
                raise Http404(f"Circuit {name!r} has no version {wanted}.")
        return Response({"a": number, "b": other, **diff_versions(versions[number], versions[other])})
