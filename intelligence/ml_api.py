"""REST API of the models: /api/v1/models (definitions), …/versions, …/train, …/promote,
…/rollback, …/metrics and POST …/predict (a record id or fields). Routed from intelligence/api.py;
same auth, tenancy and errors as every endpoint. Other tenants' models are 404."""

from __future__ import annotations

from django.http import Http404
from django.urls import path, register_converter
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from circuits.records.models import Record
from circuits.tenancy.roles import Perm
from circuits.web.api.pagination import PagePagination
from circuits.web.api.serializers.common import StrictSerializer
from circuits.web.api.views.base import ApiView
from intelligence.ml import training
from intelligence.ml.models import ModelDefinition, ModelKind, ModelVersion, SplitMode
from intelligence.ml.services import CreateDefinition, DeleteDefinition, PromoteVersion, RequestTraining, Rollback, UpdateDefinition, run_prediction

TAG = ["models"]
NAME = OpenApiParameter("name", str, OpenApiParameter.PATH, description="The model's name.")
NUMBER = OpenApiParameter("number", int, OpenApiParameter.PATH, description="The version number.")


class ModelVersionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["number", "status", "progress", "message", "chosen", "active", "decision", "train_rows", "test_rows", "positives", "split",
                  "created_at", "trained_at", "promoted_at", "seconds"]  # fmt: skip


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [*ModelVersionSummarySerializer.Meta.fields, "candidates", "metrics", "importances", "warnings", "encoder", "artifact_sha256"]


class ModelDefinitionSerializer(serializers.ModelSerializer):
    active_version = serializers.SerializerMethodField()
    labels = serializers.SerializerMethodField(help_text="Labelled records and positives now, and whether that is enough to train.")

    class Meta:
        model = ModelDefinition
        fields = ["name", "label", "kind", "object_type", "label_field", "positive_value", "negative_values", "label_from_history", "features", "rules",
                  "min_labels", "min_positives", "split", "retrain_every_hours", "last_trained_at", "created_at", "active_version", "labels"]  # fmt: skip

    def get_active_version(self, definition: ModelDefinition) -> dict | None:
        active = self.context.get("active_versions")  # a list's, fetched in one query
        version = active.get(definition.pk) if active is not None else definition.versions.filter(active=True).defer("artifact").first()
        return ModelVersionSummarySerializer(version).data if version else None

    def get_labels(self, definition: ModelDefinition) -> dict:
        if not self.context.get("with_labels"):
            return {}
        labelled, positives = training.label_counts(definition.tenant, definition)
        return {"labelled": labelled, "positives": positives, "enough": training.enough_labels(definition, labelled, positives)}


class DefinitionWriteSerializer(StrictSerializer):
    name = serializers.SlugField(max_length=50)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=ModelKind.choices, default=ModelKind.CUSTOM, required=False)
    object_type = serializers.CharField(max_length=50)
    label_field = serializers.CharField(max_length=63)
    positive_value = serializers.CharField(max_length=200)
    negative_values = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=50)
    label_from_history = serializers.BooleanField(required=False, help_text="Positive once the history shows the positive value, even if it changed since.")
    features = serializers.ListField(child=serializers.CharField(max_length=63), required=False, max_length=200)
    rules = serializers.DictField(required=False)
    min_labels = serializers.IntegerField(min_value=2, max_value=1_000_000, required=False)
    min_positives = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)
    split = serializers.ChoiceField(choices=SplitMode.choices, required=False)
    retrain_every_hours = serializers.IntegerField(min_value=0, max_value=24 * 365, required=False)


class DefinitionPatchSerializer(DefinitionWriteSerializer):
    """What a model's PATCH may change: the write fields but its name, kind, object type and label field, each optional."""

    name = kind = object_type = label_field = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class PredictSerializer(StrictSerializer):
    record_id = serializers.IntegerField(min_value=1, max_value=10**18, required=False)
    fields = serializers.DictField(required=False, help_text="Field values to score without a stored record.")

    def validate(self, data):
        if ("record_id" in data) == ("fields" in data):
            raise serializers.ValidationError({"record_id": ["Send exactly one of record_id or fields."]})
        return data


LEAD_MODEL = {
    "name": "lead-score", "kind": "lead_score", "object_type": "lead", "label_field": "status", "positive_value": "converted",
    "negative_values": ["disqualified"],
}  # fmt: skip
PREDICTION = {
    "prediction_id": 41, "model": "lead-score", "record_id": 1200, "score": 0.72, "label": True, "threshold": 0.31, "version": 3, "cold_start": False,
    "explanation": {"method": "exact (logistic regression)", "exact": True, "base": 0.28, "score": 0.72,
                    "contributions": [{"field": "title", "contribution": 0.25, "text": "title contains vp: +0.25"}], "top": ["title contains vp: +0.25"]},
}  # fmt: skip


SUMMARY = {
    "number": 3, "status": "ready", "progress": 1.0, "message": "trained", "chosen": "hist_gradient_boosting(learning_rate=0.05, max_leaf_nodes=7)",
    "active": True, "decision": "promoted: ROC AUC +0.021 against v2, interval [+0.006, +0.037] above 0, Brier 0.1244 ≤ 0.1290",
    "train_rows": 3000, "test_rows": 1000, "positives": 923, "split": "time", "created_at": "2025-06-01T02:00:00Z",
    "trained_at": "2025-06-01T02:00:27Z", "promoted_at": "2025-06-01T02:00:27Z", "seconds": 26.5,
}  # fmt: skip
METRICS = {
    "roc_auc": 0.8377, "pr_auc": 0.6218, "brier": 0.1244, "ece": 0.0216, "threshold": 0.284, "precision": 0.558, "recall": 0.623, "positive_rate": 0.23,
    "roc_curve": [[0.0, 0.0], [0.2, 0.61], [1.0, 1.0]], "calibration_curve": [[0.05, 0.04], [0.5, 0.52], [0.9, 0.88]],
}  # fmt: skip
CANDIDATES = [{"name": "logistic_regression(C=1.0)", "family": "logistic_regression", "params": {"C": 1.0}, "status": "done", "cv_roc_auc": 0.8179,
               "cv_std": 0.012, "seconds": 0.4, "chosen": False}]  # fmt: skip
VERSION = {**SUMMARY, "candidates": CANDIDATES, "metrics": METRICS, "importances": [{"field": "title", "importance": 0.061}], "warnings": [],
           "encoder": {"fields": ["title", "source"], "columns": [{"field": "title", "kind": "word", "value": "vp", "name": "title contains vp"}]},
           "artifact_sha256": "5f1c…"}  # fmt: skip
DEFINITION = {
    **LEAD_MODEL, "label": "Lead score", "features": [], "rules": {"base": 0.2, "rules": [{"field": "title", "op": "contains", "value": "vp", "weight": 0.15}]},
    "min_labels": 200, "min_positives": 50, "split": "auto", "retrain_every_hours": 24, "last_trained_at": "2025-06-01T02:00:27Z",
    "created_at": "2025-05-01T09:00:00Z", "active_version": SUMMARY, "labels": {"labelled": 4000, "positives": 923, "enough": True},
}  # fmt: skip
DEFINITION_EXAMPLE = OpenApiExample("A model", response_only=True, value=DEFINITION)
SUMMARY_EXAMPLE = OpenApiExample("A version", response_only=True, value=SUMMARY)
VERSION_EXAMPLE = OpenApiExample("A version in full", response_only=True, value=VERSION)
PATCH_EXAMPLE = OpenApiExample("Retrain weekly", request_only=True, value={"retrain_every_hours": 168, "min_labels": 300})
METRICS_EXAMPLE = OpenApiExample(
    "Active version", response_only=True,
    value={"cold_start": False, "version": 3, "chosen": SUMMARY["chosen"], "metrics": METRICS, "candidates": CANDIDATES, "importances": VERSION["importances"]},
)  # fmt: skip


def _definition(view: ApiView, name: str) -> ModelDefinition:
    definition = ModelDefinition.objects.for_tenant(view.tenant).select_related("tenant").filter(name=name).first()
    if definition is None:
        raise Http404(f"No model {name!r}.")
    return definition


def _version(view: ApiView, name: str, number: int) -> ModelVersion:
    version = ModelVersion.objects.for_tenant(view.tenant).select_related("definition").defer("artifact").filter(definition__name=name, number=number).first()
    if version is None:
        raise Http404(f"No version {number} of model {name!r}.")
    return version


@extend_schema(tags=TAG)
class ModelListView(ApiView):
    perms = {"GET": Perm.VIEW, "POST": Perm.EDIT}
    serializer_class = ModelDefinitionSerializer
    pagination_class = PagePagination

    @extend_schema(summary="List the tenant's models with their active versions", examples=[DEFINITION_EXAMPLE])
    def get(self, request):
        page = self.paginate_queryset(ModelDefinition.objects.for_tenant(self.tenant).select_related("tenant").order_by("name"))
        context = {"active_versions": training.active_versions(page)}
        return self.get_paginated_response(ModelDefinitionSerializer(page, many=True, context=context).data)

    @extend_schema(
        summary="Define a model: records of one type, a label (field and positive value), the fields to use, cold-start rules",
        request=DefinitionWriteSerializer,
        responses={201: ModelDefinitionSerializer},
        examples=[OpenApiExample("Lead score", request_only=True, value=LEAD_MODEL), DEFINITION_EXAMPLE],
    )
    def post(self, request):
        data = self.validated(DefinitionWriteSerializer)
        definition = CreateDefinition(self.tenant, self.actor, **data).execute()
        return Response(ModelDefinitionSerializer(definition, context={"with_labels": True}).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAG, parameters=[NAME])
class ModelDetailView(ApiView):
    perms = {"GET": Perm.VIEW, "PATCH": Perm.EDIT, "DELETE": Perm.EDIT}
    serializer_class = ModelDefinitionSerializer

    @extend_schema(summary="One model, its active version and how many labels it has", examples=[DEFINITION_EXAMPLE])
    def get(self, request, name: str):
        return Response(ModelDefinitionSerializer(_definition(self, name), context={"with_labels": True}).data)

    @extend_schema(
        summary="Change a model's fields, rules, thresholds or schedule", request=DefinitionPatchSerializer, examples=[PATCH_EXAMPLE, DEFINITION_EXAMPLE]
    )
    def patch(self, request, name: str):
        data = self.validated(DefinitionPatchSerializer)
        definition = UpdateDefinition(self.tenant, self.actor, _definition(self, name), data).execute()
        return Response(ModelDefinitionSerializer(definition, context={"with_labels": True}).data)

    @extend_schema(summary="Delete a model, its versions and predictions", responses={204: None})
    def delete(self, request, name: str):
        DeleteDefinition(self.tenant, self.actor, _definition(self, name)).execute()
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAG, parameters=[NAME])
class VersionListView(ApiView):
    serializer_class = ModelVersionSummarySerializer
    pagination_class = PagePagination

    @extend_schema(summary="A model's versions, newest first, with the promotion decision of each", examples=[SUMMARY_EXAMPLE])
    def get(self, request, name: str):
        definition = _definition(self, name)
        page = self.paginate_queryset(definition.versions.defer("artifact").order_by("-number"))
        return self.get_paginated_response(ModelVersionSummarySerializer(page, many=True).data)


@extend_schema(tags=TAG, parameters=[NAME, NUMBER])
class VersionDetailView(ApiView):
    serializer_class = ModelVersionSerializer

    @extend_schema(summary="One version: candidates and their CV ROC AUC, held-out metrics and curves, importances", examples=[VERSION_EXAMPLE])
    def get(self, request, name: str, number: int):
        return Response(ModelVersionSerializer(_version(self, name, number)).data)


@extend_schema(tags=TAG, parameters=[NAME, NUMBER])
class PromoteView(ApiView):
    perms = {"POST": Perm.EDIT}
    serializer_class = ModelVersionSummarySerializer

    @extend_schema(summary="Make a ready version the active one (by hand)", request=None, examples=[SUMMARY_EXAMPLE])
    def post(self, request, name: str, number: int):
        return Response(ModelVersionSummarySerializer(PromoteVersion(self.tenant, self.actor, _version(self, name, number)).execute()).data)


@extend_schema(tags=TAG, parameters=[NAME])
class TrainView(ApiView):
    perms = {"POST": Perm.EDIT}
    serializer_class = ModelVersionSummarySerializer

    @extend_schema(
        summary="Train a new version now (on a worker); poll the version for progress",
        request=None,
        responses={202: ModelVersionSummarySerializer},
        examples=[OpenApiExample("Queued", response_only=True, status_codes=["202"], value={**SUMMARY, "status": "queued", "progress": 0.0, "active": False})],
    )
    def post(self, request, name: str):
        version = RequestTraining(self.tenant, self.actor, _definition(self, name)).execute()
        version.refresh_from_db()
        return Response(ModelVersionSummarySerializer(version).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=TAG, parameters=[NAME])
class RollbackView(ApiView):
    perms = {"POST": Perm.EDIT}
    serializer_class = ModelDefinitionSerializer

    @extend_schema(
        summary="Deactivate the active version; the one active before it (or the cold-start rules) scores again", request=None, examples=[DEFINITION_EXAMPLE]
    )
    def post(self, request, name: str):
        definition = _definition(self, name)
        Rollback(self.tenant, self.actor, definition).execute()
        return Response(ModelDefinitionSerializer(definition).data)


@extend_schema(tags=TAG, parameters=[NAME])
class MetricsView(ApiView):
    serializer_class = ModelVersionSerializer

    @extend_schema(
        summary="The active version's held-out metrics, curves, candidates and importances", responses={200: OpenApiTypes.OBJECT}, examples=[METRICS_EXAMPLE]
    )
    def get(self, request, name: str):
        definition = _definition(self, name)
        version = definition.versions.filter(active=True).defer("artifact").first()
        if version is None:
            return Response({"cold_start": True, "version": None, "rules": definition.rules})
        return Response({"cold_start": False, "version": version.number, "chosen": version.chosen, "metrics": version.metrics,
                         "candidates": version.candidates, "importances": version.importances})  # fmt: skip


@extend_schema(tags=TAG, parameters=[NAME])
class PredictView(ApiView):
    perms = {"POST": Perm.VIEW}
    serializer_class = PredictSerializer

    @extend_schema(
        summary="Score a record (record_id) or field values: score, label, version, cold_start and explanation",
        request=PredictSerializer,
        responses={200: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("A lead", request_only=True, value={"record_id": 1200}), OpenApiExample("Scored", response_only=True, value=PREDICTION)],
    )
    def post(self, request, name: str):
        definition = _definition(self, name)
        data = self.validated(PredictSerializer)
        record = None
        if "record_id" in data:
            record = Record.objects.for_tenant(self.tenant).filter(pk=data["record_id"]).first()
            if record is None:
                raise Http404(f"No record {data['record_id']}.")
        return Response(run_prediction(self.tenant, definition, record=record, fields=data.get("fields")))


class _Number:
    """A version number: at most 9 digits (a longer number is a 404, not an overflow)."""

    regex = "[0-9]{1,9}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(_Number, "ml_number")

urlpatterns = [
    path("models", ModelListView.as_view(), name="models"),
    path("models/<slug:name>", ModelDetailView.as_view(), name="model"),
    path("models/<slug:name>/versions", VersionListView.as_view(), name="model-versions"),
    path("models/<slug:name>/versions/<ml_number:number>", VersionDetailView.as_view(), name="model-version"),
    path("models/<slug:name>/versions/<ml_number:number>/promote", PromoteView.as_view(), name="model-promote"),
    path("models/<slug:name>/train", TrainView.as_view(), name="model-train"),
    path("models/<slug:name>/rollback", RollbackView.as_view(), name="model-rollback"),
    path("models/<slug:name>/metrics", MetricsView.as_view(), name="model-metrics"),
    path("models/<slug:name>/predict", PredictView.as_view(), name="model-predict"),
]
