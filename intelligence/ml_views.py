"""Pages of the models: the Models list (define one, train), a model's page (candidates table,
ROC and calibration plots as inline SVG, feature importances, version history, promote,
roll back, cold-start rules) and the predictions panel of a record page. They call the same
services as the API and the steps."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path

from circuits.records.models import Record
from circuits.records.types import list_types
from circuits.tenancy.permissions import has_perm
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.form_errors import error_messages
from intelligence.ml import training
from intelligence.ml.models import ModelDefinition, ModelKind, ModelVersion, Prediction
from intelligence.ml.services import CreateDefinition, PromoteVersion, RequestTraining, Rollback, UpdateDefinition, run_prediction

PLOT = 200  # the plots' drawing area in SVG units (plus a margin for the axes)


def svg_points(points: list[list[float]]) -> str:
    """[[x, y], …] in 0–1 as an SVG polyline's points (y up)."""
    return " ".join(f"{20 + x * PLOT:.1f},{10 + (1 - y) * PLOT:.1f}" for x, y in points)


def _definition(view: TenantView, name: str) -> ModelDefinition:
    definition = ModelDefinition.objects.for_tenant(view.tenant).select_related("tenant").filter(name=name).first()
    if definition is None:  # another tenant's model is exactly as absent as a missing one
        raise Http404("No such model.")
    return definition


class ModelListView(TenantView):
    def context(self, **extra):
        definitions = list(ModelDefinition.objects.for_tenant(self.tenant).order_by("name"))
        # One pass per object type and one query for the versions, however many models there are.
        counts, active = training.label_counts_many(self.tenant, definitions), training.active_versions(definitions)
        rows = []
        for d in definitions:
            labelled, positives = counts[d.pk]
            rows.append({"definition": d, "active": active.get(d.pk), "labelled": labelled, "positives": positives,
                         "enough": training.enough_labels(d, labelled, positives)})  # fmt: skip
        return {
            "rows": rows,
            "kinds": ModelKind.choices,
            "types": list_types(self.tenant),
            "can_edit": has_perm(self.request.user, self.tenant, "edit"),
            **extra,
        }

    def get(self, request):
        return render_page(request, "intelligence/models.html", self.context())

    def post(self, request):
        self.require("edit")
        p = request.POST
        values = {
            "name": p.get("name", "").strip(), "label": p.get("label", "").strip(), "kind": p.get("kind") or ModelKind.CUSTOM,
            "object_type": p.get("object_type", ""), "label_field": p.get("label_field", "").strip(), "positive_value": p.get("positive_value", "").strip(),
            "negative_values": [v.strip() for v in p.get("negative_values", "").split(",") if v.strip()],
        }  # fmt: skip
        try:
            definition = CreateDefinition(self.tenant, request.user, **values).execute()
        except ValidationError as exc:
            return render_page(request, "intelligence/models.html", self.context(errors=error_messages(exc), form=values), status=400)
        messages.success(request, f"Defined {definition.name}; it scores by its cold-start rules until it has enough outcomes.")
        return redirect("ml_model", self.tenant.slug, definition.name)


class ModelDetailView(TenantView):
    def context(self, definition: ModelDefinition, **extra):
        versions = list(definition.versions.defer("artifact").order_by("-number"))
        shown = None
        wanted = self.request.GET.get("v", "")
        if wanted.isdigit() and len(wanted) < 10:
            shown = next((v for v in versions if v.number == int(wanted)), None)
        shown = shown or next((v for v in versions if v.active), None) or next((v for v in versions if v.status == "ready"), None)
        labelled, positives = training.label_counts(self.tenant, definition)
        plots = {}
        if shown is not None and shown.metrics:
            plots = {"roc": svg_points(shown.metrics.get("roc_curve", [])), "calibration": svg_points(shown.metrics.get("calibration_curve", []))}
            top = max((i["importance"] for i in shown.importances), default=0) or 1
            plots["importances"] = [{**i, "width": max(0.0, i["importance"]) / top * 100} for i in shown.importances[:12]]
        return {
            "definition": definition, "versions": versions, "shown": shown, "plots": plots, "labelled": labelled, "positives": positives,
            "enough": training.enough_labels(definition, labelled, positives), "rules_json": json.dumps(definition.rules, indent=2),
            "busy": any(v.status in ("queued", "training") for v in versions), "can_edit": has_perm(self.request.user, self.tenant, "edit"), **extra,
        }  # fmt: skip

    def get(self, request, name: str):
        definition = _definition(self, name)
        return render_page(request, "intelligence/model.html", self.context(definition), partial="intelligence/_model_versions.html")


class _ModelAction(TenantView):
    """A button on a model's page: each subclass's `act(request, definition, **url_kwargs)`
    runs one service and says what it did; a refusal comes back as messages."""

    required_perm = "edit"
    act: Callable[..., str]

    def post(self, request, name: str, **kwargs):
        definition = _definition(self, name)
        try:
            messages.success(request, self.act(request, definition, **kwargs))
        except ValidationError as exc:
            for message in error_messages(exc):
                messages.error(request, message)
        return redirect("ml_model", self.tenant.slug, definition.name)


class TrainView(_ModelAction):
    def act(self, request, definition):
        version = RequestTraining(self.tenant, request.user, definition).execute()
        return f"Training v{version.number}; this page shows its progress."


class PromoteView(_ModelAction):
    def act(self, request, definition, number: int):
        version = ModelVersion.objects.for_tenant(self.tenant).filter(definition=definition, number=number).defer("artifact").first()
        if version is None:
            raise Http404("No such version.")
        PromoteVersion(self.tenant, request.user, version).execute()
        return f"v{version.number} is now active."


class RollbackView(_ModelAction):
    def act(self, request, definition):
        previous = Rollback(self.tenant, request.user, definition).execute()
        return f"Rolled back: v{previous.number} is active again." if previous else "Rolled back: the cold-start rules score until a version is promoted."


def _refuse_constant(name: str):
    raise ValueError(f"not JSON: {name} is not a JSON number")


class RulesView(_ModelAction):
    def act(self, request, definition):
        try:
            rules = json.loads(request.POST.get("rules", ""), parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise ValidationError({"rules": f"not JSON: {exc.msg} (line {exc.lineno})"}) from None
        except RecursionError:  # "[[[[…" thousands deep: the parser's stack, not a 500
            raise ValidationError({"rules": "not JSON we accept: nested too deeply"}) from None
        except ValueError as exc:
            raise ValidationError({"rules": str(exc)}) from None
        UpdateDefinition(self.tenant, request.user, definition, {"rules": rules}).execute()
        return "Saved the cold-start rules."


class RecordPredictionsView(TenantView):
    """The record page's predictions panel (loaded by htmx): the latest score of each model of
    the record's type, and a button to score it now."""

    def record(self, pk: int) -> Record:
        record = Record.objects.for_tenant(self.tenant).filter(pk=pk).first()
        if record is None:
            raise Http404("No such record.")
        return record

    def context(self, record: Record, **extra) -> dict:
        definitions = list(ModelDefinition.objects.for_tenant(self.tenant).filter(object_type=record.object_type).order_by("name"))
        # The latest prediction of each model in one query (DISTINCT ON the model), not one per model.
        latest = {
            p.definition_id: p
            for p in Prediction.objects.for_tenant(self.tenant)
            .filter(record=record, definition__in=definitions)
            .select_related("version")
            .defer("version__artifact")
            .order_by("definition_id", "-created_at", "-pk")
            .distinct("definition_id")
        }
        rows = [{"definition": d, "prediction": latest.get(d.pk)} for d in definitions]
        return {"record": record, "rows": rows, **extra}

    def get(self, request, pk: int):
        record = self.record(pk)
        return render_page(request, "intelligence/_record_predictions.html", self.context(record), partial="intelligence/_record_predictions.html")

    def post(self, request, pk: int):
        record = self.record(pk)
        definition = _definition(self, request.POST.get("model", ""))
        errors = []
        try:
            run_prediction(self.tenant, definition, record=record)
        except ValidationError as exc:
            errors = error_messages(exc)
        context = self.context(record, errors=errors)
        return render_page(
            request, "intelligence/_record_predictions.html", context, partial="intelligence/_record_predictions.html", status=400 if errors else 200
        )


urlpatterns = [
    path("models/", ModelListView.as_view(), name="ml_models"),
    path("models/<slug:name>/", ModelDetailView.as_view(), name="ml_model"),
    path("models/<slug:name>/train", TrainView.as_view(), name="ml_train"),
    path("models/<slug:name>/rollback", RollbackView.as_view(), name="ml_rollback"),
    path("models/<slug:name>/rules", RulesView.as_view(), name="ml_rules"),
    path("models/<slug:name>/versions/<int:number>/promote", PromoteView.as_view(), name="ml_promote"),
    path("models/_records/<int:pk>/predictions", RecordPredictionsView.as_view(), name="ml_record_predictions"),
]
