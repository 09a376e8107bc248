"""Model definitions, their trained versions and the predictions made with them, per tenant.

A `ModelDefinition` says what to learn: records of one object type, a label (a field and its
positive value; other values of `negative_values`, or any other value, are negatives), the
fields to use, and the editable cold-start rules. Each training run makes a `ModelVersion`
with its candidates, held-out metrics and the fitted estimator as a skops artifact; at most one
version per definition is active. Every `Prediction` names the version that made it (none for a
cold-start score) and later receives the record's outcome.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from circuits.tenancy.models.scoping import TenantOwned


class ModelKind(models.TextChoices):
    LEAD_SCORE = "lead_score", "Lead score"
    CHURN = "churn", "Churn"
    CUSTOM = "custom", "Custom"


class SplitMode(models.TextChoices):
    AUTO = "auto", "By time when the records' dates spread, else stratified random"
    TIME = "time", "By time"
    RANDOM = "random", "Stratified random"


class ModelDefinition(TenantOwned):
    name = models.SlugField(max_length=50, help_text="Names the model within the tenant, e.g. lead-score.")
    label = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=20, choices=ModelKind.choices, default=ModelKind.CUSTOM)
    object_type = models.SlugField(max_length=50)
    label_field = models.CharField(max_length=63)
    positive_value = models.CharField(max_length=200)
    negative_values = models.JSONField(default=list, blank=True, help_text="Values that count as negative; empty: every other value.")
    label_from_history = models.BooleanField(
        default=False, help_text="Positive when the record history shows the label field ever had the positive value (churned once, churned)."
    )
    features = models.JSONField(default=list, blank=True, help_text="Field names to learn from; empty: every field but the label.")
    rules = models.JSONField(default=dict, blank=True, help_text="Cold-start score: {base, rules: [{field, op, value, weight}]}.")
    min_labels = models.PositiveIntegerField(default=200)
    min_positives = models.PositiveIntegerField(default=50)
    split = models.CharField(max_length=10, choices=SplitMode.choices, default=SplitMode.AUTO)
    retrain_every_hours = models.PositiveIntegerField(default=24, help_text="0: only on demand.")
    last_trained_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="ml_definition_name_unique_per_tenant")]

    def __str__(self) -> str:
        return self.label or self.name

    @property
    def active_version(self) -> ModelVersion | None:
        return self.versions.filter(active=True).first()


class VersionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    TRAINING = "training", "Training"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ModelVersion(TenantOwned):
    definition = models.ForeignKey(ModelDefinition, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=VersionStatus.choices, default=VersionStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    message = models.TextField(blank=True, help_text="What training is doing, or why it failed.")
    encoder = models.JSONField(default=dict, blank=True, help_text="How record fields became columns (vocabularies, categories).")
    warnings = models.JSONField(default=list, blank=True, help_text="Fields left out (leakage) and other notes.")
    candidates = models.JSONField(default=list, blank=True, help_text="Every candidate with its CV ROC AUC.")
    chosen = models.CharField(max_length=100, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Held-out ROC AUC, PR AUC, Brier, ECE, curves, threshold.")
    importances = models.JSONField(default=list, blank=True)
    train_rows = models.PositiveIntegerField(default=0)
    test_rows = models.PositiveIntegerField(default=0)
    positives = models.PositiveIntegerField(default=0)
    split = models.CharField(max_length=10, blank=True)
    holdout = models.JSONField(default=list, blank=True, help_text="Ids of the held-out records (a later version is compared on its own).")
    artifact = models.BinaryField(null=True, blank=True, editable=False, help_text="The fitted estimator, as skops bytes.")
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(default=False)
    decision = models.TextField(blank=True, help_text="Why this version was or was not promoted.")
    seconds = models.FloatField(default=0.0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "number"], name="ml_version_number_unique"),
            models.UniqueConstraint(fields=["definition"], condition=models.Q(active=True), name="ml_one_active_version"),
        ]

    def __str__(self) -> str:
        return f"{self.definition.name} v{self.number}"


class Prediction(TenantOwned):
    definition = models.ForeignKey(ModelDefinition, on_delete=models.CASCADE, related_name="predictions")
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="predictions")
    record = models.ForeignKey("circuits.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    score = models.FloatField()
    label = models.BooleanField()
    cold_start = models.BooleanField(default=False)
    explanation = models.JSONField(default=list)
    outcome = models.BooleanField(null=True, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "record", "-created_at"], name="ml_prediction_record")]

    def __str__(self) -> str:
        return f"{self.definition.name}: {self.score:.2f}"
