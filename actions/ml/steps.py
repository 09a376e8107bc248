"""ml.* — scores from models trained on the tenant's own records, and the outcomes that train them.

Every step works inside `ctx.tenant` only (definitions, versions and records are looked up
through it), with the engine as the actor. A score comes from the definition's active version,
or from its cold-start rules until it has enough labels (`cold_start: true`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from actions.sdk import Action, ActionError, Context, register
from circuits.records.models import Record
from intelligence.ml.models import ModelDefinition, ModelKind
from intelligence.ml.services import RecordOutcome, run_prediction

_RECORD_ID = {"type": ["integer", "string"], "title": "Record id", "description": "The record to score, e.g. {{ trigger.record.id }}."}
_FIELDS = {"type": "object", "title": "Fields", "description": "Or score these field values without a stored record."}
_MODEL = {
    "type": "string",
    "minLength": 1,
    "maxLength": 50,
    "title": "Model",
    "description": "The model's name; the tenant's only model of this kind by default.",
}
_SCORE_OUT = {
    "type": "object",
    "properties": {
        "score": {"type": "number", "description": "Probability of the positive outcome, 0–1 (calibrated)."},
        "label": {"type": "boolean", "description": "score ≥ the model's threshold."},
        "threshold": {"type": "number"},
        "version": {"type": ["integer", "null"], "description": "The model version used; null for a cold-start score."},
        "cold_start": {"type": "boolean", "description": "True while the model lacks labels and its rules score."},
        "explanation": {"type": "object", "description": "base, contributions [{field, contribution, text}], top (plain words)."},
        "prediction_id": {"type": "integer"},
        "model": {"type": "string"},
        "record_id": {"type": ["integer", "null"]},
    },
}


def _error(exc: ValidationError) -> ActionError:
    if hasattr(exc, "message_dict"):
        return ActionError("; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()))
    return ActionError(" ".join(exc.messages))


def _definition(ctx: Context, name: str | None, kind: str | None) -> ModelDefinition:
    definitions = ModelDefinition.objects.for_tenant(ctx.tenant).select_related("tenant")
    if name:
        definition = definitions.filter(name=name).first()
        if definition is None:
            raise ActionError(f"model {name!r} not found; models: {', '.join(definitions.values_list('name', flat=True)) or 'none yet'}")
        return definition
    found = list(definitions.filter(kind=kind)[:2])
    if len(found) != 1:
        raise ActionError(f"{'no' if not found else 'more than one'} {kind.replace('_', ' ')} model in this tenant; name the model")
    return found[0]


def _record(ctx: Context, definition: ModelDefinition, record_id) -> Record:
    text = str(record_id).strip()
    pk = int(text) if text.isdigit() and len(text) <= 18 else 0
    record = Record.objects.for_tenant(ctx.tenant).filter(pk=pk, object_type=definition.object_type).first()
    if record is None:
        raise ActionError(f"{definition.object_type} record {text} not found")
    return record


class _Predict(Action):
    category = "ml"
    side_effects = False  # stores a Prediction row for the record, but changes no record
    kind: str | None = None
    output_schema = _SCORE_OUT

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        given = [k for k in ("record_id", "fields") if config.get(k) not in (None, "", {})]
        if len(given) != 1:
            return ["config: give exactly one of record_id or fields"]
        return []

    def run(self, ctx: Context, config: dict) -> dict:
        errors = self.validate_config(config, rendered=True)
        if errors:
            raise ActionError("; ".join(errors))
        definition = _definition(ctx, config.get("model"), self.kind)
        record = _record(ctx, definition, config["record_id"]) if config.get("record_id") not in (None, "") else None
        try:
            out = run_prediction(ctx.tenant, definition, record=record, fields=config.get("fields"))
        except ValidationError as exc:
            raise _error(exc) from None
        source = "cold-start rules" if out["cold_start"] else f"v{out['version']}"
        ctx.log(f"{definition.name}: {out['score']:.2f} from {source}")
        return out


def _schema(model_required: bool) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["model"] if model_required else [],
        "properties": {"model": _MODEL, "record_id": _RECORD_ID, "fields": _FIELDS},
    }


@register
class PredictLeadScore(_Predict):
    name = "ml.predict_lead_score"
    label = "Predict Lead Score"
    description = "How likely a lead is to convert, from the tenant's lead-score model (rules until it has enough outcomes), explained."
    kind = ModelKind.LEAD_SCORE
    schema = _schema(False)


@register
class PredictChurn(_Predict):
    name = "ml.predict_churn"
    label = "Predict Churn"
    description = "How likely an account is to churn, from the tenant's churn model (rules until it has enough outcomes), explained."
    kind = ModelKind.CHURN
    schema = _schema(False)


@register
class PredictAny(_Predict):
    name = "ml.predict"
    label = "Predict"
    description = "Score a record (or field values) with any of the tenant's models, explained."
    schema = _schema(True)


@register
class RecordOutcomeAction(Action):
    name = "ml.record_outcome"
    category = "ml"
    label = "Record Outcome"
    description = "Record a record's real outcome (converted, churned, …): it becomes a label the next training run learns from."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["model", "record_id", "outcome"],
        "properties": {
            "model": _MODEL,
            "record_id": _RECORD_ID,
            "outcome": {
                "type": ["boolean", "string"],
                "title": "Outcome",
                "description": "true (positive) / false (the first negative value), or the label field's value, e.g. converted.",
            },
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "record_id": {"type": "integer"},
            "label": {"type": "boolean"},
            "value": {"type": "string", "description": "The value written to the label field."},
            "predictions_updated": {"type": "integer", "description": "Earlier predictions of the record that now know their outcome."},
        },
    }

    def run(self, ctx: Context, config: dict) -> dict:
        definition = _definition(ctx, config["model"], None)
        record = _record(ctx, definition, config["record_id"])
        outcome = config["outcome"]
        if isinstance(outcome, str) and outcome.strip().lower() in ("true", "false"):
            outcome = outcome.strip().lower() == "true"
        try:
            out = RecordOutcome(ctx.tenant, None, definition, record, outcome, execution=ctx.execution, idempotency_key=ctx.idempotency_key).execute()
        except ValidationError as exc:
            raise _error(exc) from None
        ctx.log(f"{definition.name}: record {record.pk} → {out['value']} ({'positive' if out['label'] else 'negative'})")
        return out
