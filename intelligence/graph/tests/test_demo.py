"""The demo tenant's graph: loaded idempotently, and the competitor query and inference have something to say."""

from __future__ import annotations

import pytest

from intelligence.graph.demo import load_demo_graph
from intelligence.graph.inference import infer
from intelligence.graph.models import Entity, Relation
from intelligence.graph.queries import competitors, resolve

pytestmark = pytest.mark.django_db


def test_the_demo_graph_loads_twice_into_one_graph_and_answers_who_competes_with_acme(world):
    load_demo_graph(world.tenant)
    counts = (Entity.objects.for_tenant(world.tenant).count(), Relation.objects.for_tenant(world.tenant).count())
    load_demo_graph(world.tenant)
    assert (Entity.objects.for_tenant(world.tenant).count(), Relation.objects.for_tenant(world.tenant).count()) == counts
    found = {c["name"]: c for c in competitors(world.tenant, resolve(world.tenant, "Acme", kind="company"))}
    assert found["Globex"]["direct"] and not found["Hooli"]["direct"] and "Sales automation" in found["Hooli"]["reason"]
    assert {"Initech", "Umbrella Analytics"} <= set(found)
    assert infer(world.tenant, limit=3, save=False)
