"""One training run: records → dataset → split → AutoML → held-out metrics → promotion decision.

`train(tenant_id, version_id)` is what the Celery task runs. It claims the queued version with
select_for_update(skip_locked) so two workers never train the same one, reports progress on
the version row as it goes, and decides promotion against the active version on the new
version's own held-out rows (so both are measured on the same records).
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from circuits.records.models import Record, RecordChange
from circuits.records.types import get_type
from circuits.tenancy.models.tenants import Tenant
from intelligence.ml import artifacts, automl, scoring
from intelligence.ml.dataset import Dataset, encode, fit_encoder, label_of, labelled, load, prune
from intelligence.ml.models import ModelDefinition, ModelVersion, SplitMode, VersionStatus
from intelligence.ml.threads import limited_threads

logger = logging.getLogger(__name__)

TEST_SHARE = 0.25
BACKGROUND_ROWS = 20


class NotEnoughLabels(Exception):
    pass


class Deleted(Exception):
    """The definition (and with it the version) was deleted while the version trained."""


def label_counts(tenant, definition: ModelDefinition) -> tuple[int, int]:
    """(labelled records, positives) of the definition now."""
    rows = labelled(tenant, definition)
    return len(rows), sum(1 for row in rows if row[3])


def label_counts_many(tenant, definitions: list[ModelDefinition]) -> dict[int, tuple[int, int]]:
    """label_counts of many definitions (a list page), reading each object type's records once
    rather than once per definition."""
    by_type: dict[str, list[ModelDefinition]] = defaultdict(list)
    for definition in definitions:
        by_type[definition.object_type].append(definition)
    counts: dict[int, list[int]] = {d.pk: [0, 0] for d in definitions}
    for object_type, group in by_type.items():
        ever = _history_positives_many(tenant, object_type, [d for d in group if d.label_from_history])
        records = Record.objects.for_tenant(tenant).filter(object_type=object_type).values_list("pk", "data")
        for pk, data in records.iterator(chunk_size=2000):
            for definition in group:
                label = True if pk in ever.get(definition.pk, ()) else label_of(definition, data)
                if label is not None:
                    counts[definition.pk][0] += 1
                    counts[definition.pk][1] += int(label)
    return {pk: (n, positives) for pk, (n, positives) in counts.items()}


def _history_positives_many(tenant, object_type: str, definitions: list[ModelDefinition]) -> dict[int, set[int]]:
    """dataset.history_positives (without the times) of many definitions of one type, in one query."""
    ever: dict[int, set[int]] = {d.pk: set() for d in definitions}
    if not definitions:
        return ever
    changes = RecordChange.objects.filter(tenant=tenant, object_type=object_type, changes__has_any_keys=sorted({d.label_field for d in definitions}))
    for record_id, diff in changes.values_list("record_id", "changes").iterator(chunk_size=2000):
        for definition in definitions:
            if record_id is None or definition.label_field not in diff:
                continue
            new = (diff.get(definition.label_field) or [None, None])[-1]
            if (str(new).lower() if isinstance(new, bool) else str(new)) == str(definition.positive_value):
                ever[definition.pk].add(record_id)
    return ever


def active_versions(definitions: list[ModelDefinition]) -> dict[int, ModelVersion]:
    """The active version of each definition (artifact left out), in one query."""
    versions = ModelVersion.objects.filter(definition__in=[d.pk for d in definitions], active=True).defer("artifact")
    return {v.definition_id: v for v in versions}


def fewest_per_outcome() -> int:
    """Records of each outcome a run needs whatever the definition says: every stratified fold of
    the training rows must hold both outcomes, and the held-out rows at least one of each."""
    return math.ceil(settings.ML_CV_FOLDS / (1 - TEST_SHARE)) + 1


def enough_labels(definition: ModelDefinition, labelled: int, positives: int) -> bool:
    return labelled >= definition.min_labels and positives >= definition.min_positives and labelled - positives >= definition.min_positives


def busy(definition: ModelDefinition) -> bool:
    """Whether a run of the definition is queued or training. A run silent for longer than
    ML_TRAIN_STALE_SECONDS lost its worker (or its task): it is marked failed, so it no longer
    blocks new runs."""
    pending = ModelVersion.objects.filter(definition=definition, status__in=[VersionStatus.QUEUED, VersionStatus.TRAINING])
    cutoff = timezone.now() - timedelta(seconds=settings.ML_TRAIN_STALE_SECONDS)
    pending.filter(created_at__lt=cutoff).update(status=VersionStatus.FAILED, message="failed: no worker finished this run in time", progress=1.0)
    return pending.exists()


class Busy(Exception):
    pass


def new_version(definition: ModelDefinition, actor=None) -> ModelVersion:
    """A queued version (the caller enqueues its training once the transaction commits).

    Raises Busy when a run is already queued or training: the check is made under the
    definition's row lock, so of two requests at once (two clicks, a click and beat) one wins."""
    with transaction.atomic():
        locked = ModelDefinition.objects.select_for_update().filter(pk=definition.pk).first()  # numbers in order
        if locked is None:
            raise ModelDefinition.DoesNotExist("Model not found.")
        if busy(definition):
            raise Busy(f"{definition.name} is already training; wait for that run to finish.")
        number = (definition.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
        return ModelVersion.objects.create(tenant=definition.tenant, definition=definition, number=number, requested_by=user, message="waiting for a worker")


def split(dataset: Dataset, mode: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Indexes of the training and held-out rows, and how they were split."""
    n = len(dataset.ids)
    order = np.argsort(np.array([t.timestamp() for t in dataset.times]), kind="stable")
    if mode != SplitMode.RANDOM:
        span = dataset.times[order[-1]] - dataset.times[order[0]] if n else timedelta(0)
        cut = round(n * (1 - TEST_SHARE))
        train_idx, test_idx = order[:cut], order[cut:]
        both = len(set(dataset.y[test_idx].tolist())) == 2 and len(set(dataset.y[train_idx].tolist())) == 2
        if mode == SplitMode.TIME or (span >= timedelta(days=settings.ML_TIME_SPLIT_MIN_DAYS) and both and dataset.y[test_idx].sum() >= 5):
            if not both:
                raise NotEnoughLabels("the time split leaves one side with a single outcome; use a random split")
            return np.sort(train_idx), np.sort(test_idx), "time"
    from sklearn.model_selection import train_test_split  # scikit-learn loads on first use (automl.py says why)

    train_idx, test_idx = train_test_split(np.arange(n), test_size=TEST_SHARE, stratify=dataset.y, random_state=0)
    return np.sort(train_idx), np.sort(test_idx), "random"


def _importances(model, X: np.ndarray, y: np.ndarray, encoder: dict) -> list[dict]:
    """Permutation importance on the held-out rows (drop in ROC AUC), summed per field."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=settings.ML_IMPORTANCE_REPEATS, random_state=0, n_jobs=1)
    by_field: dict[str, float] = {}
    for column, value in zip(encoder["columns"], result.importances_mean, strict=True):
        by_field[column["field"]] = by_field.get(column["field"], 0.0) + float(value)
    return [{"field": f, "importance": round(v, 4)} for f, v in sorted(by_field.items(), key=lambda kv: -kv[1])]


def decide(version: ModelVersion, active: ModelVersion | None, dataset: Dataset, test_idx: np.ndarray, new_scores: np.ndarray) -> tuple[bool, str, dict]:
    """Promote only if held-out ROC AUC beats the active version's on the same rows with a
    bootstrap interval above zero, and the Brier score is no worse."""
    if active is None:
        return True, "first trained version of this model", {}
    y = dataset.y[test_idx]
    rows = [dataset.rows[i] for i in test_idx]
    try:
        old = scoring.scores(active, rows, [dataset.created[i] for i in test_idx])
    except Exception as exc:  # an unreadable active version should not block a good new one
        logger.warning("could not score with %s: %s", active, exc)
        return True, f"the active version v{active.number} could not score the held-out rows ({exc})", {}
    diff, low, high = automl.bootstrap_difference(y, new_scores, old, draws=settings.ML_BOOTSTRAP_DRAWS)
    brier_new = float(np.mean((new_scores - y) ** 2))
    brier_old = float(np.mean((old - y) ** 2))
    comparison = {
        "against": active.number, "roc_auc_difference": round(diff, 4), "interval": [round(low, 4), round(high, 4)],
        "brier": round(brier_new, 4), "brier_active": round(brier_old, 4),
    }  # fmt: skip
    if low <= 0:
        return (
            False,
            f"kept as a candidate: ROC AUC {diff:+.3f} against v{active.number} on the same rows, 95 % interval [{low:+.3f}, {high:+.3f}] includes 0",
            comparison,
        )
    if brier_new > brier_old + 1e-9:
        return False, f"kept as a candidate: Brier score {brier_new:.4f} is worse than v{active.number}'s {brier_old:.4f}", comparison
    return (
        True,
        f"promoted: ROC AUC {diff:+.3f} against v{active.number}, interval [{low:+.3f}, {high:+.3f}] above 0, Brier {brier_new:.4f} ≤ {brier_old:.4f}",
        comparison,
    )


def _claim(tenant, version_id: int) -> ModelVersion | None:
    with transaction.atomic():
        queued = ModelVersion.objects.for_tenant(tenant).filter(pk=version_id, status=VersionStatus.QUEUED)
        version = queued.select_for_update(skip_locked=True).first()
        if version is None:
            return None
        version.status, version.progress, version.message = VersionStatus.TRAINING, 0.02, "loading records"
        version.save(update_fields=["status", "progress", "message"])
    return version


def train(tenant_id: int, version_id: int, grid: dict | None = None) -> ModelVersion | None:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return None
    claimed = _claim(tenant, version_id)
    if claimed is None:  # another worker has it, it is done, or it is not this tenant's
        return None
    version = ModelVersion.objects.for_tenant(tenant).select_related("definition").filter(pk=claimed.pk).first()
    if version is None:  # its model was deleted since the claim
        return None
    try:
        run(tenant, version, grid)
    except Deleted:
        logger.info("the model of %s was deleted while it trained; nothing is kept", version)
        return None
    except Exception as exc:
        if not isinstance(exc, NotEnoughLabels):
            logger.exception("training %s failed", version)
        if not ModelVersion.objects.filter(pk=version.pk).update(status=VersionStatus.FAILED, message=f"failed: {exc}", progress=1.0):
            return None  # deleted with its model meanwhile
        version.refresh_from_db()
    return version


def _progress(version: ModelVersion) -> Callable[[float, str], None]:
    def report(share: float, message: str) -> None:
        ModelVersion.objects.filter(pk=version.pk).update(progress=round(share, 3), message=message[:500])

    return report


def run(tenant, version: ModelVersion, grid: dict | None = None) -> None:
    # OpenMP threads spinning against other work on a small machine make HistGradientBoosting
    # ten times slower; ML_THREADS (1 by default) bounds them for the whole run.
    with limited_threads():
        _run(tenant, version, grid)


def _run(tenant, version: ModelVersion, grid: dict | None) -> None:
    started = time.monotonic()
    definition = version.definition
    report = _progress(version)
    type_def = get_type(tenant, definition.object_type)
    dataset = load(tenant, definition, type_def)
    n, positives = len(dataset.ids), dataset.positives
    if not enough_labels(definition, n, positives):
        raise NotEnoughLabels(
            f"{n} labelled records with {positives} positive; training needs {definition.min_labels} labelled and "
            f"{definition.min_positives} of each outcome (cold-start rules score until then)"
        )
    fewest, needed = min(positives, n - positives), fewest_per_outcome()
    if fewest < needed:  # else scikit-learn fails deep inside the split or a fold, in its own words
        raise NotEnoughLabels(
            f"{fewest} records of the rarer outcome; holding out {TEST_SHARE:.0%} and {settings.ML_CV_FOLDS}-fold cross-validation "
            f"need at least {needed} of each outcome"
        )
    if not dataset.fields:
        raise NotEnoughLabels("no usable fields are left to learn from")
    train_idx, test_idx, how = split(dataset, definition.split)
    report(0.08, f"{len(train_idx)} training rows, {len(test_idx)} held out ({how} split)")
    train_rows = [dataset.rows[i] for i in train_idx]
    encoder = fit_encoder(type_def, dataset.fields, train_rows)
    encoder, X_train = prune(encoder, encode(encoder, train_rows, [dataset.created[i] for i in train_idx]))
    if not encoder["columns"]:
        raise NotEnoughLabels("the fields give no columns that vary across the training records")
    X_test = encode(encoder, [dataset.rows[i] for i in test_idx], [dataset.created[i] for i in test_idx])
    y_train, y_test = dataset.y[train_idx], dataset.y[test_idx]
    result = automl.search(X_train, y_train, progress=report, grid=grid)
    encoder["family"] = result.family
    test_scores = result.estimator.predict_proba(X_test)[:, 1]
    metrics = automl.metrics(y_test, test_scores, result.threshold)
    report(0.9, "measuring feature importances on the held-out rows")
    importances = _importances(result.estimator, X_test, y_test, encoder)
    rng = np.random.default_rng(0)
    background = X_train[rng.choice(len(X_train), size=min(BACKGROUND_ROWS, len(X_train)), replace=False)]
    data, sha = artifacts.dump({"model": result.estimator, "background": background})
    with transaction.atomic():
        # The version's row, then the definition's: the order in which deleting the model locks them.
        if not ModelVersion.objects.select_for_update().filter(pk=version.pk).exists() or (
            ModelDefinition.objects.select_for_update().filter(pk=definition.pk).first() is None
        ):
            raise Deleted(str(version))
        active = ModelVersion.objects.for_tenant(tenant).filter(definition=definition, active=True).first()
        promote, reason, comparison = decide(version, active, dataset, test_idx, test_scores)
        if comparison:
            metrics["comparison"] = comparison
        now = timezone.now()
        version.refresh_from_db()
        version.status, version.progress, version.message = VersionStatus.READY, 1.0, "trained"
        version.encoder, version.warnings, version.candidates, version.chosen = encoder, dataset.warnings, result.candidates, result.chosen
        version.metrics, version.importances = metrics, importances
        version.train_rows, version.test_rows, version.positives, version.split = len(train_idx), len(test_idx), positives, how
        version.holdout = [dataset.ids[i] for i in test_idx]
        version.artifact, version.artifact_sha256 = data, sha
        version.decision, version.trained_at, version.seconds = reason, now, round(time.monotonic() - started, 2)
        if promote:
            ModelVersion.objects.filter(definition=definition, active=True).update(active=False)
            version.active, version.promoted_at = True, now
        version.save()
        ModelDefinition.objects.filter(pk=definition.pk).update(last_trained_at=now)


def due_definitions() -> list[ModelDefinition]:
    """Definitions whose scheduled retraining is due and have no run queued or training (a
    constant number of queries, however many definitions: beat runs this every hour)."""
    now = timezone.now()
    pending = ModelVersion.objects.filter(status__in=[VersionStatus.QUEUED, VersionStatus.TRAINING])
    cutoff = now - timedelta(seconds=settings.ML_TRAIN_STALE_SECONDS)
    pending.filter(created_at__lt=cutoff).update(status=VersionStatus.FAILED, message="failed: no worker finished this run in time", progress=1.0)
    running = set(pending.values_list("definition_id", flat=True))
    due = []
    for definition in ModelDefinition.objects.exclude(retrain_every_hours=0).exclude(pk__in=running).select_related("tenant"):
        if definition.last_trained_at is None or definition.last_trained_at <= now - timedelta(hours=definition.retrain_every_hours):
            due.append(definition)
    return due
