"""Training through a real Celery worker on Redis: enqueued on commit, ids in, progress on the version."""

from __future__ import annotations

import uuid

import pytest

from intelligence.ml.models import ModelVersion, VersionStatus
from intelligence.ml.services import RequestTraining
from intelligence.ml.tests.fixtures import lead_model, make_leads
from intelligence.rag.tests.test_worker import start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue(settings):
    name = f"test-ml-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    return name


def test_a_worker_trains_a_requested_version_and_its_progress_shows_on_it(world, queue, settings):
    settings.ML_TRAIN_INLINE = False
    make_leads(world.tenant, 120)
    definition = lead_model(world.tenant)
    version = RequestTraining(world.tenant, world.editor, definition).execute()  # committed: enqueued for the worker
    assert ModelVersion.objects.get(pk=version.pk).status == VersionStatus.QUEUED
    worker = start_worker(queue)
    seen = []
    try:

        def trained():
            current = ModelVersion.objects.get(pk=version.pk)
            seen.append(current.progress)
            return current if current.status in (VersionStatus.READY, VersionStatus.FAILED) else None

        done = wait_for(trained, timeout=120, what="the trained version")
    finally:
        stop(worker)
    assert done.status == VersionStatus.READY and done.active, done.message
    assert done.progress == 1.0 and seen == sorted(seen)  # progress only grows
    assert done.artifact_sha256 and done.candidates
