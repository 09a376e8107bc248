"""Labelled leads for the model tests: a known structure (senior titles and referrals convert),
written in bulk with a history row each, so datasets, outcomes and leakage are real."""

from __future__ import annotations

import math
import random

import pytest
from django.test.utils import override_settings

from circuits.records.models import Record, RecordChange
from intelligence.ml.models import ModelDefinition
from intelligence.ml.services import CreateDefinition, RequestTraining

TITLES = ["VP Sales", "VP Marketing", "Director of IT", "Engineer", "Analyst", "Assistant"]
SOURCES = ["referral", "web", "ads", "event"]


def lead_data(rng: random.Random, i: int) -> tuple[dict, bool]:
    title = rng.choice(TITLES)
    source = rng.choice(SOURCES)
    z = -1.2 + 2.2 * ("VP" in title) + 1.8 * (source == "referral") - 1.2 * (source == "ads")
    converted = rng.random() < 1 / (1 + math.exp(-z))
    data = {"email": f"lead{i}@example.com", "title": title, "source": source, "company": f"Co {i % 17}"}
    if rng.random() < 0.5:
        data["phone"] = f"+49 30 {i:06d}"
    return data, converted


def make_leads(tenant, n: int = 160, seed: int = 0, labelled: bool = True, start: int = 0) -> list[Record]:
    rng = random.Random(seed)
    records = []
    for i in range(start, start + n):
        data, converted = lead_data(rng, i)
        if labelled:
            data["status"] = "converted" if converted else "disqualified"
        else:
            data["status"] = "new"
        records.append(Record(tenant=tenant, object_type="lead", data=data))
    Record.objects.bulk_create(records)
    RecordChange.objects.bulk_create(
        RecordChange(tenant=tenant, record=r, record_key=r.pk, object_type="lead", operation="created", changes={k: [None, v] for k, v in r.data.items()})
        for r in records
    )
    return records


def lead_model(tenant, **extra) -> ModelDefinition:
    values = {
        "name": "lead-score", "kind": "lead_score", "object_type": "lead", "label_field": "status", "positive_value": "converted",
        "negative_values": ["disqualified"], "min_labels": 60, "min_positives": 15, "split": "random", **extra,
    }  # fmt: skip
    return CreateDefinition(tenant, None, **values).execute()


LINEAR_ONLY = {"logistic_regression": {"C": [1.0]}}
TREES_ONLY = {"hist_gradient_boosting": {"max_iter": [40]}}


@pytest.fixture
def trained(world, django_capture_on_commit_callbacks):
    """A lead-score model trained (logistic regression) on 160 labelled leads of the world's tenant."""
    make_leads(world.tenant)
    definition = lead_model(world.tenant)

    with override_settings(ML_GRIDS=LINEAR_ONLY), django_capture_on_commit_callbacks(execute=True):
        version = RequestTraining(world.tenant, world.editor, definition).execute()
    version.refresh_from_db()
    return definition, version
