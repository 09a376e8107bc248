"""Training through a real Celery worker on Redis: enqueued on commit, ids in, progress on the version."""

from __future__ import annotations

import pytest

from intelligence.ml.models import ModelVersion, VersionStatus
from intelligence.ml.services import RequestTraining
from intelligence.ml.tests.fixtures import lead_model, make_leads
from tests.engine.workers import own_queue, worker_until
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue(settings):
    return own_queue(settings, "test-ml")


def test_a_worker_trains_a_requested_version_and_its_progress_shows_on_it(world, queue, settings):
    settings.ML_TRAIN_INLINE = False
    make_leads(world.tenant, 120)
    definition = lead_model(world.tenant)
    version = RequestTraining(world.tenant, world.editor, definition).execute()  # committed: enqueued for the worker
    assert ModelVersion.objects.get(pk=version.pk).status == VersionStatus.QUEUED
    seen = []

    def trained():
        current = ModelVersion.objects.get(pk=version.pk)
        seen.append(current.progress)
        return current if current.status in (VersionStatus.READY, VersionStatus.FAILED) else None

    done = worker_until(queue, trained, timeout=120, what="the trained version", log=f"ml-worker-{queue}.log")
    assert done.status == VersionStatus.READY and done.active, done.message
    assert done.progress == 1.0 and seen == sorted(seen)  # progress only grows
    assert done.artifact_sha256 and done.candidates
