"""Neighbours (the recursive CTE), shortest path, competitors with their reasons, subgraph,
entity resolution — and that none of them reaches another tenant's graph."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from intelligence.graph import queries
from intelligence.graph.queries import competitors, neighbours, reach, resolve, shortest_path, subgraph
from intelligence.graph.services import UpsertEntity, UpsertRelation
from intelligence.graph.tests.fixtures import build_market

pytestmark = pytest.mark.django_db


def names(rows) -> set[str]:
    return {r["name"] for r in rows}


def test_neighbours_at_depth_one_are_the_directly_related_entities_each_with_the_relation_reaching_it(market):
    found = neighbours(market.tenant, market.e["Acme"], depth=1)
    assert names(found) == {"Globex", "Initech", "Smart buildings", "LoRaWAN"}
    globex = next(n for n in found if n["name"] == "Globex")
    assert (
        globex["hops"] == 1 and globex["via"]["type"] == "competes_with" and {globex["via"]["source_name"], globex["via"]["target_name"]} == {"Acme", "Globex"}
    )


def test_neighbours_by_relation_type_and_depth_follow_only_that_type(market):
    one = neighbours(market.tenant, market.e["Acme"], depth=1, types=["competes_with"])
    two = neighbours(market.tenant, market.e["Acme"], depth=2, types=["competes_with"])
    assert names(one) == {"Globex", "Initech"}
    assert names(two) == {"Globex", "Initech", "Hooli"}
    assert next(n for n in two if n["name"] == "Hooli")["hops"] == 2


def test_direction_out_follows_relations_forwards_but_symmetric_ones_both_ways(market):
    out = names(neighbours(market.tenant, market.e["LoRaWAN"], depth=1, direction="out"))
    into = names(neighbours(market.tenant, market.e["LoRaWAN"], depth=1, direction="in"))
    assert out == set() and into == {"Acme", "Globex", "Hooli"}
    # competes_with is stored once (smaller id first) yet is followed from either end
    assert "Acme" in names(neighbours(market.tenant, market.e["Globex"], depth=1, types=["competes_with"], direction="out"))


def test_the_walk_is_bounded_and_refuses_bad_depths_types_and_directions(market):
    far = reach(market.tenant, market.e["Acme"], depth=4)
    by_name = {e.name: far.get(e.pk) for e in market.e.values()}
    assert by_name["Tyrell"] == 3 and by_name["Wayne"] == 4  # Acme → Globex → Hooli → Tyrell (partner) → Wayne
    assert by_name["Umbrella"] is None and by_name["Acme"] is None  # five hops away; and never itself
    for kwargs, field in (({"depth": 0}, "depth"), ({"depth": 5}, "depth"), ({"types": ["likes"]}, "types"), ({"direction": "up"}, "direction")):
        with pytest.raises(ValidationError) as info:
            neighbours(market.tenant, market.e["Acme"], **{"depth": 1, **kwargs})
        assert field in info.value.message_dict


def test_shortest_path_gives_the_chain_of_relations_and_none_when_not_connected(market):
    path = shortest_path(market.tenant, market.e["Acme"], market.e["Hooli"], types=["competes_with"])
    assert [e["name"] for e in path["entities"]] == ["Acme", "Globex", "Hooli"] and path["hops"] == 2
    assert [r["type"] for r in path["relations"]] == ["competes_with", "competes_with"]
    assert shortest_path(market.tenant, market.e["Acme"], market.e["Umbrella"], types=["competes_with"]) is None
    across = shortest_path(market.tenant, market.e["Acme"], market.e["Tyrell"])
    assert across is not None and across["entities"][-1]["name"] == "Tyrell"  # through a shared technology or market


def test_competitors_are_direct_first_then_via_a_shared_market_or_technology_with_the_path_as_reason(market):
    found = competitors(market.tenant, market.e["Hooli"])
    assert found[0]["name"] == "Globex" and found[0]["direct"] and found[0]["score"] == 1.0
    acme = next(c for c in found if c["name"] == "Acme")
    assert not acme["direct"] and 0 < acme["score"] < 1
    assert "'Smart buildings' (4 companies)" in acme["reason"] and "'LoRaWAN' (3 companies)" in acme["reason"]
    assert ["Hooli", "uses", "LoRaWAN", "uses", "Acme"] in acme["paths"]
    assert names(found) == {"Globex", "Acme", "Initech"}  # never a company of the other market
    # sharing more (market and technology) scores higher than sharing the market alone
    assert acme["score"] > next(c for c in found if c["name"] == "Initech")["score"]
    assert names(competitors(market.tenant, market.e["Hooli"], indirect=False)) == {"Globex"}


def test_subgraph_has_the_entities_around_one_and_every_relation_among_them(market):
    graph = subgraph(market.tenant, market.e["Umbrella"], depth=1)
    assert {e["name"] for e in graph["entities"]} == {"Umbrella", "Stark", "Wayne", "Fleet tracking", "MQTT"}
    assert graph["center"] == market.e["Umbrella"].pk and not graph["truncated"]
    pairs = {(r["source_name"], r["type"], r["target_name"]) for r in graph["relations"]}
    assert ("Stark", "in_market", "Fleet tracking") in pairs  # a relation between two neighbours is drawn too
    assert subgraph(market.tenant, market.e["Umbrella"], depth=2, limit=3)["truncated"]


def test_resolve_finds_an_entity_by_id_name_or_alias_and_names_the_problem_otherwise(market):
    t = market.tenant
    UpsertEntity(t, None, kind="company", name="Globex", aliases=["Globex Corp."]).execute()
    assert resolve(t, "globex corp").name == "Globex"
    assert resolve(t, str(market.e["Acme"].pk)).name == "Acme"
    with pytest.raises(ValidationError, match="No entity called 'Nobody'"):
        resolve(t, "Nobody")
    UpsertEntity(t, None, kind="product", name="Acme").execute()
    with pytest.raises(ValidationError, match="more than one entity"):
        resolve(t, "Acme")
    assert resolve(t, "Acme", kind="product").kind == "product"


def test_no_query_reaches_another_tenants_graph(world, market):
    theirs = build_market(world.other_tenant)
    assert not set(reach(market.tenant, market.e["Acme"], depth=4)) & {e.pk for e in theirs.e.values()}
    assert shortest_path(market.tenant, market.e["Acme"], theirs.e["Globex"]) is None
    with pytest.raises(ValidationError, match="No entity"):
        resolve(market.tenant, theirs.e["Acme"].pk)
    with pytest.raises(ValidationError, match=r"No such source"):
        UpsertRelation(market.tenant, None, source=theirs.e["Acme"], target=market.e["Globex"], type="competes_with").execute()
    assert {c["id"] for c in competitors(market.tenant, market.e["Hooli"])} <= {e.pk for e in market.e.values()}


def test_a_hub_is_reached_but_not_walked_through_unless_the_walk_starts_there(market, monkeypatch):
    through = {n["name"] for n in neighbours(market.tenant, market.e["Acme"], depth=2, types=["in_market"])}
    assert through == {"Smart buildings", "Globex", "Initech", "Hooli"}
    monkeypatch.setattr(queries, "HUB_DEGREE", 3)  # the market has four companies: now a hub
    assert {n["name"] for n in neighbours(market.tenant, market.e["Acme"], depth=2, types=["in_market"])} == {"Smart buildings"}
    assert {n["name"] for n in neighbours(market.tenant, market.e["Smart buildings"], depth=1)} == {"Acme", "Globex", "Initech", "Hooli"}


def test_a_path_is_found_to_an_entity_beyond_the_nearest_five_hundred(world):
    from intelligence.graph.models import Entity, Relation

    t = world.tenant
    rows = Entity.objects.bulk_create(Entity(tenant=t, kind="company", name=f"C{i}", key=f"c{i}") for i in range(queries.MAX_NODES + 102))
    hub, leaves, far = rows[0], rows[1:-1], rows[-1]
    Relation.objects.bulk_create(Relation(tenant=t, source=hub, target=leaf, type="partner_of") for leaf in leaves)
    Relation.objects.create(tenant=t, source=leaves[-1], target=far, type="partner_of")
    assert far.pk not in reach(t, hub, 2)  # past the nearest MAX_NODES, as a neighbourhood is
    path = shortest_path(t, hub, far)
    assert path is not None and path["hops"] == 2 and [e["id"] for e in path["entities"]] == [hub.pk, leaves[-1].pk, far.pk]
    assert shortest_path(t, far, hub)["hops"] == 2


def test_a_path_never_goes_back_through_a_hub_next_to_the_target(world):
    from intelligence.graph.models import Entity, Relation

    t = world.tenant
    s, a, hub, b, c, target = Entity.objects.bulk_create(Entity(tenant=t, kind="company", name=n, key=n.lower()) for n in ("S", "A", "Hub", "B", "C", "T"))
    leaves = Entity.objects.bulk_create(Entity(tenant=t, kind="company", name=f"L{i}", key=f"l{i}") for i in range(queries.HUB_DEGREE + 1))
    Relation.objects.bulk_create(Relation(tenant=t, source=hub, target=leaf, type="partner_of") for leaf in leaves)
    Relation.objects.create(tenant=t, source=hub, target=target, type="partner_of", confidence=1.0)  # tried first when walking back
    for x, y in ((s, a), (a, hub), (s, b), (b, c), (c, target)):
        Relation.objects.create(tenant=t, source=x, target=y, type="partner_of", confidence=0.5)
    path = shortest_path(t, s, target)
    assert [e["name"] for e in path["entities"]] == ["S", "B", "C", "T"]


def test_a_relation_that_ended_or_has_not_begun_is_no_link_today(market):
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    # Hooli — partner_of → Tyrell is the one bridge between the two markets: ended last year, it links nothing.
    bridge = market.rel("Hooli", "partner_of", "Tyrell", valid_from=today - timedelta(days=700), valid_to=today - timedelta(days=365))
    assert shortest_path(market.tenant, market.e["Acme"], market.e["Tyrell"]) is None
    assert "Tyrell" not in names(neighbours(market.tenant, market.e["Hooli"], depth=1))
    # Globex competes with Hooli only from next month on: not a stated competitor yet.
    market.rel("Hooli", "competes_with", "Globex", valid_from=today + timedelta(days=30))
    found = {c["name"]: c for c in competitors(market.tenant, market.e["Hooli"])}
    assert not found["Globex"]["direct"]  # still found, through the market they share
    assert names(subgraph(market.tenant, market.e["Hooli"], depth=1, types=["competes_with"])["entities"]) == {"Hooli"}
    # Open-ended again (valid until today): the bridge holds and the path is back.
    bridge.valid_to = today
    bridge.save(update_fields=["valid_to"])
    assert shortest_path(market.tenant, market.e["Acme"], market.e["Tyrell"]) is not None
