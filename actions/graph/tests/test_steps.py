"""The graph.* steps against the real store: happy paths, bad configs, and that a step only
ever sees its own tenant's graph."""

from __future__ import annotations

import pytest

from actions.sdk import ActionError
from circuits.records.models import Record
from intelligence.graph.models import Entity, Relation, Suggestion
from intelligence.graph.tests.fixtures import build_market
from tests.actions.steps import family

pytestmark = pytest.mark.django_db


step, run = family("graph")


def test_query_competitors_returns_scored_competitors_with_reasons_and_paths(market):
    out = run(market.tenant, "graph.query_competitors", {"company": "Hooli"})
    assert out["company"]["name"] == "Hooli" and out["names"][0] == "Globex" and out["count"] == len(out["competitors"])
    indirect = next(c for c in out["competitors"] if not c["direct"])
    assert 0 < indirect["score"] < 1 and "shares" in indirect["reason"] and indirect["paths"][0][0] == "Hooli"
    only_direct = run(market.tenant, "graph.query_competitors", {"company": "Hooli", "indirect": False})
    assert only_direct["names"] == ["Globex"]
    assert step("graph.query_competitors").side_effects is False


def test_query_competitors_by_account_record_id(world, market, django_capture_on_commit_callbacks):
    from circuits.records.service import CreateRecord

    with django_capture_on_commit_callbacks(execute=True):
        account = CreateRecord(world.tenant, world.editor, "account", {"name": "Acme"}).execute()
    assert Entity.objects.get(tenant=world.tenant, kind="company", name="Acme").record_id == account.pk  # the synced account is the market's Acme
    out = run(world.tenant, "graph.query_competitors", {"account_id": str(account.pk)})
    assert out["company"]["record_id"] == account.pk and {"Globex", "Initech"} <= set(out["names"])
    with pytest.raises(ActionError, match="account_id: Account 999999 is not in the graph"):
        run(world.tenant, "graph.query_competitors", {"account_id": 999999})
    assert Record.objects.filter(tenant=world.tenant).count() == 1


def test_query_graph_neighbours_path_and_subgraph(market):
    near = run(market.tenant, "graph.query", {"entity": "Acme", "types": ["competes_with"], "depth": 2})
    assert {e["name"]: e["hops"] for e in near["entities"]} == {"Globex": 1, "Initech": 1, "Hooli": 2}
    assert all(r["type"] == "competes_with" for r in near["relations"])
    path = run(market.tenant, "graph.query", {"mode": "path", "entity": "Acme", "to": "Tyrell"})
    assert path["found"] and path["entities"][0]["name"] == "Acme" and path["entities"][-1]["name"] == "Tyrell" and len(path["relations"]) == path["hops"]
    apart = run(market.tenant, "graph.query", {"mode": "path", "entity": "Acme", "to": "Umbrella", "types": ["competes_with"]})
    assert apart == {"entity": apart["entity"], "entities": [], "relations": [], "found": False, "hops": 0}
    sub = run(market.tenant, "graph.query", {"mode": "subgraph", "entity": "Stark"})
    assert {"Stark", "Umbrella", "Wayne"} <= {e["name"] for e in sub["entities"]} and sub["relations"]


def test_infer_relationships_stores_suggestions_with_scores_and_reasons(market):
    out = run(market.tenant, "graph.infer_relationships", {"limit": 3})
    assert out["count"] == 3 and Suggestion.objects.filter(tenant=market.tenant).count() == 3
    best = out["suggestions"][0]
    assert best["id"] and best["type"] == "competes_with" and best["reason"].startswith(best["source_name"]) and 0 < best["score"] <= 1
    assert {e["id"] for e in out["entities"]} >= {best["source"], best["target"]}
    one = run(market.tenant, "graph.infer_relationships", {"entity": "Hooli", "save": False})
    assert all("Hooli" in (s["source_name"], s["target_name"]) for s in one["suggestions"]) and all(s["id"] is None for s in one["suggestions"])


def test_upsert_entity_and_relation_create_then_update(market):
    made = run(
        market.tenant, "graph.upsert_entity", {"kind": "company", "name": "Cyberdyne", "aliases": ["Cyberdyne Systems"], "attributes": {"region": "DACH"}}
    )
    assert made["created"] and made["entity"]["aliases"] == ["Cyberdyne Systems"]
    again = run(market.tenant, "graph.upsert_entity", {"kind": "company", "name": "cyberdyne", "attributes": {"industry": "Robotics"}})
    assert not again["created"] and again["entity"]["attributes"] == {"region": "DACH", "industry": "Robotics"}
    related = run(market.tenant, "graph.upsert_relation", {"source": "Cyberdyne Systems", "type": "competes_with", "target": "Acme", "confidence": 0.8})
    assert related["created"] and related["relation"]["confidence"] == 0.8 and {e["name"] for e in related["entities"]} == {"Cyberdyne", "Acme"}
    created = run(
        market.tenant, "graph.upsert_relation",
        {"source": "Skynet", "source_kind": "product", "type": "uses", "target": "TensorFlow", "target_kind": "technology", "create_missing": True},
    )  # fmt: skip
    assert created["relation"]["source_name"] == "Skynet" and Entity.objects.get(tenant=market.tenant, name="TensorFlow").kind == "technology"


def test_steps_refuse_what_the_graph_refuses_naming_the_field(market):
    with pytest.raises(ActionError, match="source: works_at needs a person as its source, not the company 'Acme'"):
        run(market.tenant, "graph.upsert_relation", {"source": "Acme", "type": "works_at", "target": "Globex"})
    with pytest.raises(ActionError, match="type: Unknown relation type 'likes'"):
        run(market.tenant, "graph.upsert_relation", {"source": "Acme", "type": "likes", "target": "Globex"})
    with pytest.raises(ActionError, match="kind: Unknown entity kind 'planet'"):
        run(market.tenant, "graph.upsert_entity", {"kind": "planet", "name": "Mars"})
    with pytest.raises(ActionError, match="company: No entity called 'Nobody'"):
        run(market.tenant, "graph.query_competitors", {"company": "Nobody"})
    assert not Relation.objects.filter(tenant=market.tenant, type="works_at").exists()


def test_a_step_never_sees_another_tenants_graph(world, market):
    theirs = build_market(world.other_tenant)
    Entity.objects.filter(pk=theirs.e["Acme"].pk).update(name="Theirs Only", key="theirs only")
    with pytest.raises(ActionError, match="No entity called 'Theirs Only'"):
        run(world.tenant, "graph.query", {"entity": "Theirs Only"})
    with pytest.raises(ActionError, match="No entity"):
        run(world.tenant, "graph.query", {"entity": theirs.e["Globex"].pk})
    out = run(world.tenant, "graph.query", {"entity": "Globex", "depth": 4})
    assert {e["id"] for e in out["entities"]} <= {e.pk for e in market.e.values()}


@pytest.mark.parametrize(
    ("name", "config", "fragment"),
    [
        ("graph.query_competitors", {}, "exactly one of company or account_id"),
        ("graph.query_competitors", {"company": "A", "account_id": 1}, "exactly one of company or account_id"),
        ("graph.query_competitors", {"company": "A", "limit": 0}, "limit: 0 is less than the minimum of 1"),
        ("graph.query", {}, "'entity' is a required property"),
        ("graph.query", {"entity": "A", "mode": "path"}, "to: is required with mode path"),
        ("graph.query", {"entity": "A", "to": "B"}, "to: only applies to mode path"),
        ("graph.query", {"entity": "A", "depth": 9}, "depth: 9 is greater than the maximum of 4"),
        ("graph.query", {"entity": "A", "mode": "walk"}, "mode: 'walk' is not one of"),
        ("graph.infer_relationships", {"limit": 1000}, "limit: 1000 is greater than the maximum"),
        ("graph.infer_relationships", {"types": ["Not A Slug"]}, "does not match"),
        ("graph.upsert_entity", {"name": "A"}, "'kind' is a required property"),
        ("graph.upsert_entity", {"kind": "company", "name": "A", "colour": "red"}, "Additional properties"),
        ("graph.upsert_relation", {"source": "A", "target": "B"}, "'type' is a required property"),
        ("graph.upsert_relation", {"source": "A", "type": "uses", "target": "B", "create_missing": True}, "create_missing: needs source_kind and target_kind"),
        ("graph.upsert_relation", {"source": "A", "type": "uses", "target": "B", "confidence": 2}, "confidence: 2 is greater than the maximum of 1"),
    ],
)
def test_bad_configs_are_refused_naming_the_field(name, config, fragment):
    errors = step(name).validate_config(config)
    assert errors and any(fragment in e for e in errors), errors


def test_query_competitors_by_a_contacts_record_id_is_refused_not_answered_for_the_person(world):
    from intelligence.graph.services import UpsertEntity

    contact = Record.objects.create(tenant=world.tenant, object_type="contact", data={"first_name": "Peter", "last_name": "Gibbons"})
    UpsertEntity(world.tenant, None, kind="person", name="Peter Gibbons", record=contact).execute()
    with pytest.raises(ActionError, match=f"account_id: Account {contact.pk} is not in the graph"):
        run(world.tenant, "graph.query_competitors", {"account_id": contact.pk})
