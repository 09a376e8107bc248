"""Inference: link prediction with a score and a reason in words, the learned combiner and its
fallback, the transitive rule, accept/reject (rejected never again) — and `graph_eval`."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from intelligence.graph import inference
from intelligence.graph.inference import infer, load_graph, predict
from intelligence.graph.linkpred import LEARNED, train
from intelligence.graph.models import Origin, Relation, Suggestion, SuggestionStatus
from intelligence.graph.services import DecideSuggestion, UpsertEntity, UpsertRelation
from intelligence.graph.tests.fixtures import build_market

pytestmark = pytest.mark.django_db
CSV = Path(__file__).resolve().parents[1] / "eval" / "competitors.csv"


def pair(s: Suggestion) -> frozenset[str]:
    return frozenset((s.source.name, s.target.name))


def test_inference_suggests_competitors_in_the_same_market_with_a_score_and_a_reason(market):
    rows = infer(market.tenant, limit=20)
    assert rows and all(r.status == SuggestionStatus.PENDING and 0 <= r.score <= 1 and r.reason for r in rows)
    top = {pair(r) for r in rows[:4]}
    assert frozenset(("Hooli", "Initech")) in top or frozenset(("Acme", "Hooli")) in top  # same market, shared competitor Globex
    best = rows[0]
    assert best.method == LEARNED and best.source.name in best.reason and "same market" in best.reason and "Learned combiner" in best.reason
    assert set(best.details["features"]) >= {"adamic_adar", "common_neighbours", "resource_allocation", "same_market", "same_region"}
    # nothing already related is suggested, and a symmetric pair only once, in stored order
    stated = {frozenset((r.source.name, r.target.name)) for r in Relation.objects.filter(tenant=market.tenant, type="competes_with")}
    assert not {pair(r) for r in rows} & stated and all(r.source_id < r.target_id for r in rows)
    # scores rank the same-market pairs above the cross-market ones
    cross = [
        r
        for r in rows
        if {r.source.name, r.target.name} & {"Umbrella", "Stark", "Wayne", "Tyrell"} and {r.source.name, r.target.name} & {"Acme", "Globex", "Initech"}
    ]
    assert all(c.score < best.score for c in cross)


def test_with_few_known_edges_the_product_falls_back_to_adamic_adar(world):
    m = build_market(world.tenant)
    Relation.objects.filter(tenant=world.tenant, type="competes_with").exclude(source=m.e["Acme"]).delete()
    data = load_graph(world.tenant)
    assert train(data, "competes_with", ({"company"}, {"company"})).method == "adamic_adar"
    proposals = predict(world.tenant, "competes_with", data=data)
    assert proposals and all(p.method == "adamic_adar" and "Adamic–Adar" in p.reason for p in proposals)


def test_accepting_makes_a_relation_and_rejecting_means_never_again(market):
    first, second = infer(market.tenant, limit=2)
    relation = DecideSuggestion(market.tenant, None, first, accept=True).execute()
    assert relation.origin == Origin.INFERENCE and relation.confidence == pytest.approx(first.score) and relation.evidence["suggestion"] == first.pk
    assert Suggestion.objects.get(pk=first.pk).status == SuggestionStatus.ACCEPTED
    DecideSuggestion(market.tenant, None, second, accept=False).execute()
    again = infer(market.tenant, limit=100)
    assert pair(second) not in {pair(r) for r in again} and pair(first) not in {pair(r) for r in again}
    assert Suggestion.objects.get(pk=second.pk).status == SuggestionStatus.REJECTED
    with pytest.raises(ValidationError, match="already rejected"):
        DecideSuggestion(market.tenant, None, second, accept=True).execute()


def test_a_viewer_cannot_decide_and_another_tenant_cannot_touch_a_suggestion(world, market):
    row = infer(market.tenant, limit=1)[0]
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        DecideSuggestion(market.tenant, world.viewer, row, accept=True).execute()
    with pytest.raises(ValidationError, match="No such suggestion"):
        DecideSuggestion(world.other_tenant, None, row, accept=True).execute()
    assert Suggestion.objects.get(pk=row.pk).status == SuggestionStatus.PENDING


def test_a_declared_transitive_type_suggests_the_closing_relation_with_the_chain_as_reason(world):
    t = world.tenant
    parent, mid, child = (UpsertEntity(t, None, kind="company", name=n).execute()[0] for n in ("Holding", "Division", "Shop"))
    UpsertRelation(t, None, source=child, target=mid, type="subsidiary_of", confidence=0.9).execute()
    UpsertRelation(t, None, source=mid, target=parent, type="subsidiary_of").execute()
    rows = infer(t, types=["subsidiary_of"], limit=5)
    rule = next(r for r in rows if r.method == "rule:transitive")
    assert (rule.source.name, rule.target.name, rule.score) == ("Shop", "Holding", 0.9)
    assert rule.reason == "Shop is a subsidiary of Division and Division is a subsidiary of Holding; subsidiary_of is declared transitive."


def test_inference_for_one_entity_only_touches_it_and_refuses_bad_input(world, market):
    rows = infer(market.tenant, entity=market.e["Hooli"], limit=5, save=False)
    assert rows and all(market.e["Hooli"].pk in (r.source_id, r.target_id) for r in rows) and not Suggestion.objects.exists()
    with pytest.raises(ValidationError, match="Unknown relation type"):
        infer(market.tenant, types=["likes"])
    with pytest.raises(ValidationError, match="limit"):
        infer(market.tenant, limit=0)
    theirs = build_market(world.other_tenant)
    with pytest.raises(ValidationError, match="No such entity"):
        infer(market.tenant, entity=theirs.e["Acme"])
    assert all(r.tenant_id == market.tenant.pk for r in infer(market.tenant, limit=50))


def test_graph_eval_prints_every_predictor_and_the_chosen_one_beats_the_best_heuristic_on_auc():
    out = StringIO()
    call_command("graph_eval", "--edges", str(CSV), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert set(result["predictors"]) == {"common_neighbours", "adamic_adar", "resource_allocation", "learned"}
    assert set(result["predictors"]["learned"]) == {"auc", "ap", "p_at_k", "hits_at_10"}
    chosen = result["predictors"][result["chosen"]]["auc"]
    assert result["chosen"] == "learned" and chosen > max(result["predictors"][h]["auc"] for h in ("common_neighbours", "adamic_adar", "resource_allocation"))
    table = StringIO()
    call_command("graph_eval", "--edges", str(CSV), stdout=table)
    assert "ROC AUC" in table.getvalue() and "← chosen" in table.getvalue()
    from circuits.tenancy.models.tenants import Tenant

    assert not Tenant.objects.filter(slug__startswith="graph-eval-").exists()  # the throwaway tenant is gone


def test_graph_eval_names_the_line_of_a_bad_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("source,relation,target\nAcme,competes_with,Globex\nAcme,likes\n")
    with pytest.raises(CommandError, match=r"bad\.csv:3: expected source,relation,target"):
        call_command("graph_eval", "--edges", str(bad))
    bad.write_text("Acme,likes,Globex\n")
    with pytest.raises(CommandError, match="unknown relation 'likes'"):
        call_command("graph_eval", "--edges", str(bad))


def test_inference_for_an_entity_proposes_only_relations_its_kind_can_have(world, market):
    person = UpsertEntity(world.tenant, None, kind="person", name="Peter Gibbons").execute()[0]
    UpsertRelation(world.tenant, None, source=person, target=market.e["Initech"], type="works_at").execute()
    assert infer(world.tenant, entity=person, save=False) == []  # a person competes with no one
    other = UpsertEntity(world.tenant, None, kind="person", name="Milton").execute()[0]
    UpsertRelation(world.tenant, None, source=other, target=market.e["Initech"], type="works_at").execute()
    rows = infer(world.tenant, types=["works_at"], entity=market.e["Globex"], save=False)
    assert rows and all(r.target_id == market.e["Globex"].pk and r.source.kind == "person" for r in rows)  # the company only as the target


def test_the_loaded_graph_and_its_models_are_reused_until_the_graph_changes(market, monkeypatch):
    loads = []
    real = inference.load_graph
    monkeypatch.setattr(inference, "load_graph", lambda tenant: loads.append(tenant.pk) or real(tenant))
    first = [(r.source_id, r.target_id, r.score) for r in infer(market.tenant, limit=5, save=False)]
    assert [(r.source_id, r.target_id, r.score) for r in infer(market.tenant, limit=5, save=False)] == first
    assert len(loads) == 1
    market.rel("Hooli", "competes_with", "Initech")
    again = infer(market.tenant, limit=5, save=False)
    assert len(loads) == 2 and frozenset((market.e["Hooli"].pk, market.e["Initech"].pk)) not in {frozenset((r.source_id, r.target_id)) for r in again}


def test_a_whole_tenant_run_scores_only_each_sources_best_connected_candidates_up_to_the_cap(market, monkeypatch):
    from intelligence.graph import linkpred

    scored: list[int] = []
    real = linkpred.Model.score
    monkeypatch.setattr(linkpred.Model, "score", lambda self, data, pairs: scored.append(len(pairs)) or real(self, data, pairs))
    monkeypatch.setattr(inference, "PER_SOURCE_CANDIDATES", 1)
    monkeypatch.setattr(inference, "MAX_CANDIDATES", 3)
    rows = infer(market.tenant, limit=10, save=False)
    assert rows and len(rows) <= 3 and scored and max(scored) <= 3


def test_the_combiner_of_a_big_graph_learns_from_a_sample_of_its_known_edges(market, monkeypatch):
    from intelligence.graph import linkpred

    market.rel("Hooli", "competes_with", "Initech")  # nine known competes_with edges
    monkeypatch.setattr(linkpred, "MAX_TRAINING_EDGES", 8)
    model = train(load_graph(market.tenant), "competes_with", ({"company"}, {"company"}))
    assert model.method == LEARNED and model.training_edges == 8


def test_a_symmetric_transitive_type_closes_chains_stored_either_way_round_once_in_stored_order(world):
    t = world.tenant
    from intelligence.graph.services import DefineRelationType

    DefineRelationType(t, None, "allied_with", symmetric=True, transitive=True).execute()
    a, b, c = (UpsertEntity(t, None, kind="company", name=n).execute()[0] for n in ("Alpha", "Beta", "Gamma"))
    UpsertRelation(t, None, source=a, target=c, type="allied_with").execute()  # stored (Alpha, Gamma)
    UpsertRelation(t, None, source=b, target=c, type="allied_with").execute()  # stored (Beta, Gamma): Gamma is in both
    rules = [r for r in infer(t, types=["allied_with"], limit=10, save=False) if r.method == "rule:transitive"]
    assert [(r.source_id, r.target_id) for r in rules] == [(a.pk, b.pk)]
    assert [(r.source_id, r.target_id) for r in infer(t, types=["allied_with"], entity=b, limit=10, save=False) if r.method == "rule:transitive"] == [
        (a.pk, b.pk)
    ]


def test_a_transitive_loop_is_not_closed_the_other_way_round(world):
    t = world.tenant
    a, b, c = (UpsertEntity(t, None, kind="company", name=n).execute()[0] for n in ("Alpha", "Beta", "Gamma"))
    for s, target in ((a, b), (b, c), (c, a)):  # Alpha ⊂ Beta ⊂ Gamma ⊂ Alpha
        UpsertRelation(t, None, source=s, target=target, type="subsidiary_of").execute()
    assert [r for r in infer(t, types=["subsidiary_of"], limit=10, save=False) if r.method == "rule:transitive"] == []


def test_inference_for_one_entity_finds_the_chains_ending_at_it(world):
    t = world.tenant
    parent, mid, child = (UpsertEntity(t, None, kind="company", name=n).execute()[0] for n in ("Holding", "Division", "Shop"))
    UpsertRelation(t, None, source=child, target=mid, type="subsidiary_of").execute()
    UpsertRelation(t, None, source=mid, target=parent, type="subsidiary_of").execute()
    for who in (parent, child):
        rules = [r for r in infer(t, types=["subsidiary_of"], entity=who, limit=5, save=False) if r.method == "rule:transitive"]
        assert [(r.source_id, r.target_id) for r in rules] == [(child.pk, parent.pk)]
    assert [r for r in infer(t, types=["subsidiary_of"], entity=mid, limit=5, save=False) if r.method == "rule:transitive"] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "has no edges"),
        (b"source,relation,target\n", "has no edges"),
        (b"Acme,competes_with,Acme\nAcme,competes_with,Globex\n", r"bad\.csv:1: 'Acme' competes_with itself"),
        (b"Acme,competes_with,Globex\nACME,competes_with,acme\n", r"bad\.csv:2: 'ACME' competes_with itself"),
        (b"Acme,competes_with,Globex\n", "1 edge"),
        (b"A,competes_with,B\nB,competes_with,C\nA,competes_with,C\n", "every pair is an edge"),
        (("x" * 201 + ",competes_with,Globex\n").encode(), r"bad\.csv:1: a name has at most 200 characters"),
        ("Ac\u00e9me,competes_with,Globex\n".encode("latin-1"), r"bad\.csv:1: not UTF-8"),
        (b"Acme,competes_with,Glo\x00bex\n", r"bad\.csv:1: a name holds a NUL byte"),
    ],
    ids=["empty", "header-only", "self-loop", "self-loop-by-spelling", "one-edge", "complete", "long-name", "latin-1", "nul-byte"],
)
def test_graph_eval_refuses_a_malformed_file_with_a_clear_error_and_leaves_no_tenant_behind(tmp_path, content, message):
    from circuits.tenancy.models.tenants import Tenant

    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("graph_eval", "--edges", str(bad), "--json", stdout=StringIO())
    assert not Tenant.objects.filter(slug__startswith="graph-eval-").exists()


def test_graph_eval_takes_two_spellings_of_a_name_as_one_entity(tmp_path):
    edges = tmp_path / "edges.csv"
    rows = [f"C{i},competes_with,C{i + 1}" for i in range(12)] + ["acme inc,competes_with,C3", '"ACME, Inc.",competes_with,C7', "C1,competes_with,C9"]
    edges.write_text("\n".join(rows) + "\n")
    out = StringIO()
    call_command("graph_eval", "--edges", str(edges), "--json", stdout=out)
    assert json.loads(out.getvalue())["nodes"] == 14  # C0…C12 and Acme Inc once


def test_a_suggestion_decided_while_inference_runs_is_neither_stored_again_nor_an_error(market, monkeypatch):
    real = inference.predict

    def decided_meanwhile(tenant, type_, *args, **kwargs):
        found = real(tenant, type_, *args, **kwargs)
        first = found[0]
        Suggestion.objects.create(
            tenant=tenant, source_id=first.source, target_id=first.target, type=first.type, score=first.score, method="x", reason="x",
            status=SuggestionStatus.REJECTED,
        )  # fmt: skip
        return found

    monkeypatch.setattr(inference, "predict", decided_meanwhile)
    rows = infer(market.tenant, limit=5)
    assert rows and all(r.status == SuggestionStatus.PENDING for r in rows)
    assert Suggestion.objects.filter(tenant=market.tenant, status=SuggestionStatus.REJECTED).count() == 1
    assert not {(r.source_id, r.target_id) for r in rows} & set(
        Suggestion.objects.filter(status=SuggestionStatus.REJECTED).values_list("source_id", "target_id")
    )


def test_a_slug_with_a_trailing_newline_is_refused(world):
    from intelligence.graph.services import DefineEntityKind, DefineRelationType

    with pytest.raises(ValidationError, match="slug"):
        DefineEntityKind(world.tenant, None, "regulation\n").execute()
    with pytest.raises(ValidationError, match="slug"):
        DefineRelationType(world.tenant, None, "resells\n").execute()


def test_a_pair_rejected_before_its_type_was_made_symmetric_is_not_suggested_again(world):
    from intelligence.graph.services import DefineRelationType

    t = world.tenant
    DefineRelationType(t, None, "allied_with").execute()
    a, b, c = (UpsertEntity(t, None, kind="company", name=n).execute()[0] for n in ("Alpha", "Beta", "Gamma"))
    Suggestion.objects.create(tenant=t, source=b, target=a, type="allied_with", score=0.4, method="x", reason="x", status=SuggestionStatus.REJECTED)
    DefineRelationType(t, None, "allied_with", symmetric=True).execute()  # no relations of it yet: allowed
    UpsertRelation(t, None, source=a, target=c, type="partner_of").execute()
    UpsertRelation(t, None, source=c, target=b, type="partner_of").execute()  # Alpha and Beta two hops apart
    assert (a.pk, b.pk) not in {(r.source_id, r.target_id) for r in infer(t, types=["allied_with"], limit=10, save=False)}


def test_a_sources_candidate_places_go_to_pairs_not_yet_related(market, monkeypatch):
    monkeypatch.setattr(inference, "PER_SOURCE_CANDIDATES", 1)
    stated = {frozenset((r.source_id, r.target_id)) for r in Relation.objects.filter(tenant=market.tenant, type="competes_with")}
    rows = infer(market.tenant, limit=20, save=False)
    assert rows and not {frozenset((r.source_id, r.target_id)) for r in rows} & stated
    # every company that has an unrelated company two hops away gets its one place filled with such a pair
    assert {market.e[n].pk for n in ("Acme", "Globex", "Hooli")} <= {r.source_id for r in rows} | {r.target_id for r in rows}
