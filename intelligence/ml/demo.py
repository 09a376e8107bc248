"""The demo tenant's leads with a history and outcomes, and a lead-score model trained on them.

`load_demo` calls `load_demo_model(tenant)`: 400 leads created over the past year (written in
bulk, so no circuit triggers on them), most of which later became converted or disqualified
(a history row records when); then the `lead-score` model is defined and trained in process,
on a one-candidate-per-family grid so loading the demo stays fast. Idempotent.

Who converts: senior titles (VP, Head, Director), referrals and partners, company e-mail
addresses, and a phone number given; a requested demo helps senior titles most.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from circuits.records.models import Record, RecordChange
from intelligence.ml import training
from intelligence.ml.coldstart import default_rules
from intelligence.ml.models import ModelDefinition, ModelKind, VersionStatus

DEMO_DOMAIN = "leads.acme-demo.test"
DEMO_GRID = {
    "logistic_regression": {"C": [1.0]},
    "hist_gradient_boosting": {"learning_rate": [0.1], "max_leaf_nodes": [7]},
    "random_forest": {"min_samples_leaf": [5]},
}
TITLES = [("VP of Sales", 2), ("Head of Operations", 2), ("Director of IT", 1.5), ("Sales Manager", 0.5), ("Engineer", 0), ("Analyst", 0), ("Assistant", -0.5)]
SOURCES = {"referral": 1.2, "partner": 0.8, "event": 0.3, "web": 0.0, "ads": -0.6, "cold call": -1.0}
COMPANIES = ["Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Wonka", "Globex", "Soylent", "Tyrell", "Cyberdyne"]


def _lead(rng: random.Random, i: int) -> tuple[dict, bool | None, int]:
    title, seniority = rng.choice(TITLES)
    source = rng.choices(list(SOURCES), weights=[1, 1, 2, 4, 3, 2])[0]
    company = rng.choice(COMPANIES)
    free_mail = rng.random() < 0.3
    domain = rng.choice(["gmail.com", "outlook.com"]) if free_mail else f"{company.lower().replace(' ', '')}.example"
    data = {"first_name": f"Lead{i}", "last_name": "Demo", "email": f"lead{i}@{domain}" if free_mail else f"lead{i}.{DEMO_DOMAIN}@{domain}",
            "company": company, "title": title, "source": source}  # fmt: skip
    if rng.random() < 0.6:
        data["phone"] = f"+1 555 {i:04d}"
    z = -1.6 + 0.8 * seniority + SOURCES[source] - 0.8 * free_mail + 0.5 * ("phone" in data)
    z += 0.6 if seniority >= 1.5 and source in ("referral", "event") else 0.0
    converted = rng.random() < 1 / (1 + math.exp(-z))
    outcome = None if rng.random() < 0.15 else converted  # some are still being worked
    # Leads still being worked are the recent ones; a decided lead is older than its outcome.
    return data, outcome, rng.randrange(30) if outcome is None else rng.randrange(45, 400)


def load_demo_leads(tenant, n: int = 400) -> int:
    """Create the demo leads once (their e-mails mark them); returns how many were made."""
    if Record.objects.for_tenant(tenant).filter(object_type="lead", data__email__icontains=DEMO_DOMAIN).exists():
        return 0
    rng = random.Random(11)
    now = timezone.now()
    made = [_lead(rng, i) for i in range(n)]
    records = []
    for data, outcome, _age in made:
        status = "working" if outcome is None else "converted" if outcome else "disqualified"
        records.append(Record(tenant=tenant, object_type="lead", data={**data, "status": status}))
    with transaction.atomic():
        Record.objects.bulk_create(records)
        changes = []
        for record, (data, _outcome, age) in zip(records, made, strict=True):
            record.created_at = now - timedelta(days=age, hours=rng.randrange(24))
            changes.append(RecordChange(tenant=tenant, record=record, record_key=record.pk, object_type="lead", operation="created",
                                        changes={k: [None, v] for k, v in {**data, "status": "new"}.items()}))  # fmt: skip
            final = record.data["status"]
            changes.append(RecordChange(tenant=tenant, record=record, record_key=record.pk, object_type="lead", operation="updated",
                                        changes={"status": ["new", final]}))  # fmt: skip
        Record.objects.bulk_update(records, ["created_at"])
        created = RecordChange.objects.bulk_create(changes)
        # History dates: created with the record, the outcome 2–40 days later (never in the future).
        for index, change in enumerate(created):
            record = records[index // 2]
            change.created_at = record.created_at if index % 2 == 0 else min(now, record.created_at + timedelta(days=rng.randint(2, 40)))
        RecordChange.objects.bulk_update(created, ["created_at"])
    return len(records)


def load_demo_model(tenant) -> ModelDefinition:
    """The demo leads and a trained, active lead-score model (trained once)."""
    load_demo_leads(tenant)
    definition, _ = ModelDefinition.objects.get_or_create(
        tenant=tenant, name="lead-score",
        defaults={"label": "Lead score", "kind": ModelKind.LEAD_SCORE, "object_type": "lead", "label_field": "status", "positive_value": "converted",
                  "negative_values": ["disqualified"], "features": ["company", "title", "source", "phone", "email"], "split": "auto"},
    )  # fmt: skip
    if not definition.rules:
        definition.rules = default_rules(definition.kind)
        definition.save(update_fields=["rules"])
    if not definition.versions.filter(status=VersionStatus.READY).exists():
        version = training.new_version(definition)
        training.train(tenant.pk, version.pk, grid=DEMO_GRID)
    return definition
