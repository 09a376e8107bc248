"""Changes to models as services (check()/execute()), called by the API, the pages and the steps.

The engine passes actor=None: the circuit was allowed to run, only the tenant scope applies.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from circuits.records.models import Record
from circuits.records.service import UpdateRecord
from circuits.records.types import get_type
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service
from intelligence.ml import coldstart, predict, tasks, training
from intelligence.ml.dataset import label_of
from intelligence.ml.models import ModelDefinition, ModelKind, ModelVersion, Prediction, SplitMode, VersionStatus

EDITABLE = (
    "label",
    "features",
    "rules",
    "min_labels",
    "min_positives",
    "split",
    "retrain_every_hours",
    "negative_values",
    "positive_value",
    "label_from_history",
)


class _MlService(Service):
    perm = Perm.EDIT
    denied_message = "Your role cannot change models."

    def check(self) -> None:
        if self.tenant is None or self.tenant.pk is None:
            raise PermissionDenied("Models always belong to a tenant.")
        if self.actor is None:
            self.validate()
            return
        super().check()


def _scoped(tenant, obj) -> None:
    if obj is None or obj.tenant_id != tenant.pk:
        raise ModelDefinition.DoesNotExist("Model not found.")


_NAME = re.compile(r"[-a-zA-Z0-9_]{1,50}")
_LENGTHS = {"label": 100, "positive_value": 200}  # the columns' sizes: longer is a 400, not a DataError
MAX_NEGATIVES = 50


def validate_definition(tenant, values: dict[str, Any]) -> None:
    problems: dict[str, str | list] = {}
    for key, limit in _LENGTHS.items():
        if isinstance(values.get(key), str) and len(values[key]) > limit:
            problems[key] = f"at most {limit} characters"
    negatives = values.get("negative_values") or []
    if not isinstance(negatives, list) or len(negatives) > MAX_NEGATIVES or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in negatives):
        problems["negative_values"] = f"a list of at most {MAX_NEGATIVES} values of 1 to 200 characters"
    if problems:
        raise ValidationError(problems)
    try:
        type_def = get_type(tenant, values.get("object_type"))
    except ValidationError as exc:
        raise ValidationError({"object_type": exc.message_dict.get("object_type", exc.messages)}) from None
    names = type_def.field_names
    if values.get("label_field") not in names:
        problems["label_field"] = f"{values.get('label_field')!r} is not a field of {type_def.slug} ({', '.join(names)})"
    unknown = [f for f in values.get("features") or [] if f not in names]
    if unknown:
        problems["features"] = f"not fields of {type_def.slug}: {', '.join(map(str, unknown))}"
    features = values.get("features") or []
    twice = sorted({str(f) for f in features if features.count(f) > 1})
    if twice:
        problems["features"] = f"named more than once: {', '.join(twice)}"
    if values.get("label_field") in features:
        problems["features"] = "the label field cannot also be a feature"
    label = type_def.field(values["label_field"]) if values.get("label_field") in names else None
    positive = values.get("positive_value")
    if label is not None and isinstance(positive, str) and positive:
        # A value the label field can never hold would leave the model without positives for ever.
        allowed = list(label.choices) if label.type == "choice" else ["true", "false"] if label.type == "boolean" else None
        if allowed is not None and positive not in allowed:
            problems["positive_value"] = f"{positive!r} is not a value {label.name} can take ({', '.join(allowed)})"
        bad = [str(v) for v in values.get("negative_values") or [] if allowed is not None and v not in allowed]
        if bad:
            problems["negative_values"] = f"not values {label.name} can take: {', '.join(bad)} ({', '.join(allowed)})"
    if not isinstance(values.get("positive_value"), str) or not values["positive_value"]:
        problems["positive_value"] = "name the value of the label field that counts as positive"
    if values.get("positive_value") in (values.get("negative_values") or []):
        problems["negative_values"] = "the positive value cannot also be negative"
    if values.get("split", SplitMode.AUTO) not in SplitMode.values:
        problems["split"] = f"one of {', '.join(SplitMode.values)}"
    if values.get("kind", ModelKind.CUSTOM) not in ModelKind.values:
        problems["kind"] = f"one of {', '.join(ModelKind.values)}"
    for key in ("min_labels", "min_positives"):
        if key in values and (not isinstance(values[key], int) or values[key] < 2):
            problems[key] = "a whole number ≥ 2"
    if problems:
        raise ValidationError(problems)
    if values.get("rules"):
        coldstart.validate_rules(values["rules"], names)


class CreateDefinition(_MlService):
    def __init__(self, tenant, actor, **values: Any) -> None:
        super().__init__(tenant, actor)
        self.values = values

    def validate(self) -> None:
        values = self.values
        name = values.get("name")
        # The name is in every URL of the model: anything but a slug would break the pages' links.
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValidationError({"name": "Name the model with 1 to 50 letters, digits, hyphens or underscores, e.g. lead-score."})
        if ModelDefinition.objects.for_tenant(self.tenant).filter(name=name).exists():
            raise ValidationError({"name": f"A model named {name!r} already exists."})
        validate_definition(self.tenant, values)

    def perform(self) -> ModelDefinition:
        values = dict(self.values)
        values.setdefault("rules", coldstart.default_rules(values.get("kind", ModelKind.CUSTOM)))
        user = self.actor if self.actor is not None and getattr(self.actor, "is_authenticated", False) else None
        return ModelDefinition.objects.create(tenant=self.tenant, created_by=user, **values)


class UpdateDefinition(_MlService):
    def __init__(self, tenant, actor, definition: ModelDefinition, changes: dict) -> None:
        super().__init__(tenant, actor)
        self.definition, self.changes = definition, changes

    def validate(self) -> None:
        _scoped(self.tenant, self.definition)
        unknown = set(self.changes) - set(EDITABLE)
        if unknown:
            raise ValidationError({name: f"cannot be changed; editable: {', '.join(EDITABLE)}" for name in sorted(unknown)})
        merged = {f: getattr(self.definition, f) for f in ("object_type", "label_field", "positive_value", "negative_values", "features", "split", "kind")}
        merged.update(self.changes)
        validate_definition(self.tenant, merged)

    def perform(self) -> ModelDefinition:
        for name, value in self.changes.items():
            setattr(self.definition, name, value)
        self.definition.save()
        return self.definition


class DeleteDefinition(_MlService):
    """Delete a model with its versions and predictions (the records and their outcomes stay)."""

    def __init__(self, tenant, actor, definition: ModelDefinition) -> None:
        super().__init__(tenant, actor)
        self.definition = definition

    def validate(self) -> None:
        _scoped(self.tenant, self.definition)

    def perform(self) -> None:
        self.definition.delete()


class RequestTraining(_MlService):
    """Queue a training run (trained on a worker once this commits); refused while one is pending."""

    def __init__(self, tenant, actor, definition: ModelDefinition) -> None:
        super().__init__(tenant, actor)
        self.definition = definition

    def validate(self) -> None:
        _scoped(self.tenant, self.definition)
        if training.busy(self.definition):
            raise ValidationError({"definition": f"{self.definition.name} is already training; wait for that run to finish."})
        labelled, positives = training.label_counts(self.tenant, self.definition)
        if not training.enough_labels(self.definition, labelled, positives):
            d = self.definition
            raise ValidationError({
                "definition": f"{labelled} labelled records with {positives} positive; training needs {d.min_labels} labelled and "
                f"{d.min_positives} of each outcome. Until then the cold-start rules score."
            })  # fmt: skip

    def perform(self) -> ModelVersion:
        try:  # busy() again, under the definition's lock: a second request at once is refused here
            version = training.new_version(self.definition, self.actor)
        except training.Busy as exc:
            raise ValidationError({"definition": str(exc)}) from None
        tasks.enqueue_training(self.tenant.pk, version.pk)
        return version


class PromoteVersion(_MlService):
    """Make a ready version the active one, by hand (the automatic rule applies only after training)."""

    def __init__(self, tenant, actor, version: ModelVersion, reason: str = "") -> None:
        super().__init__(tenant, actor)
        self.version, self.reason = version, reason

    def validate(self) -> None:
        _scoped(self.tenant, self.version)
        if self.version.status != VersionStatus.READY:
            raise ValidationError({"version": f"v{self.version.number} is {self.version.status}; only a ready version can be promoted."})
        if self.version.active:
            raise ValidationError({"version": f"v{self.version.number} is already active."})

    def perform(self) -> ModelVersion:
        ModelDefinition.objects.select_for_update().filter(pk=self.version.definition_id).first()
        ModelVersion.objects.filter(definition_id=self.version.definition_id, active=True).update(active=False)
        who = getattr(self.actor, "username", None) or "a circuit"
        self.version.active, self.version.promoted_at = True, timezone.now()
        self.version.decision = self.reason or f"promoted by hand by {who}"
        self.version.save(update_fields=["active", "promoted_at", "decision"])
        return self.version


class Rollback(_MlService):
    """Deactivate the active version and reactivate the one active before it (or none: cold start)."""

    def __init__(self, tenant, actor, definition: ModelDefinition) -> None:
        super().__init__(tenant, actor)
        self.definition = definition

    def validate(self) -> None:
        _scoped(self.tenant, self.definition)
        self.current = self.definition.versions.filter(active=True).first()
        if self.current is None:
            raise ValidationError({"definition": f"{self.definition.name} has no active version to roll back."})

    def perform(self) -> ModelVersion | None:
        ModelDefinition.objects.select_for_update().filter(pk=self.definition.pk).first()
        # The one promoted last before the current one was: by promotion time, not by number
        # (an older version promoted again by hand is current; the newer one it replaced comes back).
        earlier = self.definition.versions.filter(status=VersionStatus.READY, promoted_at__isnull=False).exclude(pk=self.current.pk)
        if self.current.promoted_at is not None:
            earlier = earlier.filter(promoted_at__lt=self.current.promoted_at)
        previous = earlier.defer("artifact").order_by("-promoted_at", "-number").first()
        self.current.active = False
        self.current.decision = f"{self.current.decision}; rolled back".strip("; ")
        self.current.save(update_fields=["active", "decision"])
        if previous is not None:
            previous.active = True
            previous.save(update_fields=["active"])
        return previous


class RecordOutcome(_MlService):
    """Write a record's outcome into the definition's label field (history records when), and
    attach it to the record's predictions: the next training run learns from it."""

    def __init__(
        self, tenant, actor, definition: ModelDefinition, record: Record, outcome: bool | str, execution=None, idempotency_key: str | None = None
    ) -> None:
        super().__init__(tenant, actor)
        self.definition, self.record, self.outcome, self.execution = definition, record, outcome, execution
        self.idempotency_key = idempotency_key  # a step's: its re-run after a lost worker writes nothing twice

    def validate(self) -> None:
        _scoped(self.tenant, self.definition)
        if self.record is None or self.record.tenant_id != self.tenant.pk:
            raise Record.DoesNotExist("Record not found.")
        if self.record.object_type != self.definition.object_type:
            raise ValidationError({"record_id": f"record {self.record.pk} is a {self.record.object_type}, not a {self.definition.object_type}"})
        d = self.definition
        if isinstance(self.outcome, bool):
            if self.outcome:
                self.value = d.positive_value
            elif d.negative_values:
                self.value = d.negative_values[0]
            elif self._label_type() == "boolean":  # the negative of a true/false label is the other one
                self.value = "false" if d.positive_value == "true" else "true"
            else:
                raise ValidationError({"outcome": f"{d.name} has no negative value configured; give the value for {d.label_field} instead"})
        elif isinstance(self.outcome, str) and self.outcome:
            self.value = self.outcome
        else:
            raise ValidationError({"outcome": "true/false, or the value of the label field"})
        self.label = label_of(d, {d.label_field: self.value})
        if self.label is None:
            raise ValidationError({"outcome": f"{self.value!r} is neither {d.positive_value!r} nor one of the negative values {d.negative_values}"})

    def _label_type(self) -> str | None:
        field = get_type(self.tenant, self.definition.object_type).field(self.definition.label_field)
        return field.type if field is not None else None

    def perform(self) -> dict:
        field = get_type(self.tenant, self.definition.object_type).field(self.definition.label_field)
        value: Any = self.value
        if field is not None and field.type == "boolean":
            value = str(self.value).lower() == "true"
        changes = {self.definition.label_field: value}
        UpdateRecord(self.tenant, self.actor, self.record, changes, execution=self.execution, idempotency_key=self.idempotency_key).execute()
        updated = (
            Prediction.objects.for_tenant(self.tenant)
            .filter(definition=self.definition, record=self.record, outcome__isnull=True)
            .update(outcome=self.label, outcome_at=timezone.now())
        )
        return {"record_id": self.record.pk, "label": self.label, "value": self.value, "predictions_updated": updated}


def run_prediction(tenant, definition: ModelDefinition, record: Record | None = None, fields: dict | None = None) -> dict:
    _scoped(tenant, definition)
    return predict.predict(definition, record=record, fields=fields)
