"""Predictions: the active version's calibrated score with its explanation, or the cold-start
rules' score while there is no active version — each stored as a Prediction naming its version."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from circuits.records.models import Record
from circuits.records.types import get_type
from intelligence.ml import coldstart, scoring
from intelligence.ml.models import ModelDefinition, ModelVersion, Prediction


def active_version(definition: ModelDefinition) -> ModelVersion | None:
    return ModelVersion.objects.for_tenant(definition.tenant).filter(definition=definition, active=True).defer("artifact").first()


def rules_of(definition: ModelDefinition) -> dict:
    return definition.rules or coldstart.default_rules(definition.kind)


def score(definition: ModelDefinition, data: dict, created=None) -> dict:
    """{score, label, version, cold_start, explanation} for a record's fields (nothing stored)."""
    version = active_version(definition)
    if version is None:
        out = coldstart.score(rules_of(definition), data)
        return {"score": out["score"], "label": out["score"] >= 0.5, "threshold": 0.5, "version": None, "cold_start": True, "explanation": out["explanation"]}
    value, explanation = scoring.score_one(version, data, created)
    threshold = float(version.metrics.get("threshold", 0.5))
    return {
        "score": round(value, 4),
        "label": value >= threshold,
        "threshold": threshold,
        "version": version.number,
        "cold_start": False,
        "explanation": explanation,
        "_version": version,
    }


def _validate_given(type_def, data: dict) -> None:
    """The fields given must be valid values of their type (an object for a title is a 400, not
    a silently missing value); fields left out are simply missing, even required ones."""
    try:
        type_def.validate(data)
    except ValidationError as exc:
        given = {name: messages for name, messages in exc.message_dict.items() if name in data}
        if given:
            raise ValidationError(given) from None


def predict(definition: ModelDefinition, record: Record | None = None, fields: dict | None = None) -> dict:
    """Score a record of the tenant (or bare fields, validated against the type) and store it."""
    tenant = definition.tenant
    if record is not None:
        if record.tenant_id != tenant.pk:
            raise Record.DoesNotExist("Record not found.")
        if record.object_type != definition.object_type:
            raise ValidationError({"record_id": f"record {record.pk} is a {record.object_type}; {definition.name} scores {definition.object_type} records"})
        data, created = record.data, record.created_at
    else:
        type_def = get_type(tenant, definition.object_type)
        data = type_def.normalize(fields or {})  # unknown fields are refused here
        _validate_given(type_def, data)
        created = None
    out = score(definition, data, created)
    version = out.pop("_version", None)
    stored = Prediction.objects.create(
        tenant=tenant, definition=definition, version=version, record=record, score=out["score"], label=out["label"],
        cold_start=out["cold_start"], explanation=out["explanation"],
    )  # fmt: skip
    return {"prediction_id": stored.pk, "model": definition.name, "record_id": record.pk if record else None, **out}
