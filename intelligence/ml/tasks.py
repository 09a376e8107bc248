"""Celery tasks of the models: train one version (ids in, re-loaded inside the tenant), and the
beat job that queues scheduled retraining. `enqueue_training` is the one way a version gets
trained: on a worker once the transaction commits, or in process when ML_TRAIN_INLINE is on."""

from __future__ import annotations

from collections import defaultdict

from celery import shared_task
from django.conf import settings
from django.db import transaction

from intelligence.ml import training
from intelligence.ml.models import ModelDefinition


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def train_model(tenant_id: int, version_id: int) -> str:
    version = training.train(tenant_id, version_id)
    return version.status if version is not None else "skipped"


def enqueue_training(tenant_id: int, version_id: int) -> None:
    def send() -> None:
        if settings.ML_TRAIN_INLINE:
            training.train(tenant_id, version_id)
        else:
            train_model.apply_async((tenant_id, version_id))

    transaction.on_commit(send)


@shared_task(ignore_result=True)
def retrain_due() -> int:
    """Queue a training run for every definition whose schedule is due and that has enough labels."""
    queued = 0
    due = training.due_definitions()
    by_tenant: dict[int, list[ModelDefinition]] = defaultdict(list)
    for definition in due:
        by_tenant[definition.tenant_id].append(definition)
    counts: dict[int, tuple[int, int]] = {}
    for group in by_tenant.values():  # each tenant's records read once per object type, not once per model
        counts.update(training.label_counts_many(group[0].tenant, group))
    for definition in due:
        if not training.enough_labels(definition, *counts[definition.pk]):
            continue
        try:
            with transaction.atomic():
                version = training.new_version(definition)
                enqueue_training(definition.tenant_id, version.pk)
        except (training.Busy, ModelDefinition.DoesNotExist):  # queued on demand, or deleted, since due_definitions()
            continue
        queued += 1
    return queued
