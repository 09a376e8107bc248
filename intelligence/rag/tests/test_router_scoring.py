"""The router's decisions and the value terms (recency, authority, feedback) in `auto`."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from intelligence.rag.ingest import RecordFeedback
from intelligence.rag.models import Feedback
from intelligence.rag.router import classify
from intelligence.rag.search import search

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "intent", "decided_by"),
    [
        ("latest news about the Northwind contract", "recent_news", "rule"),
        ("battlecard for Globex", "competitor", "rule"),
        ("how do I reset my password", "how_to", "rule"),
        ("tips for a discovery call", "best_practice", "rule"),
        ("current travel policy meal allowance", "company_facts", "rule"),
        ("what do rivals like Hooli charge per device", "competitor", "rule"),
        ("why do customers pick Initech instead of us", "competitor", "classifier"),
        ("persuading a hesitant buyer who finds us pricey", "best_practice", "classifier"),
        ("zebra migration patterns in the Serengeti", "general", "classifier unsure"),  # far from every intent: no guess
    ],
)
def test_the_router_names_the_intent_and_what_decided_it(query, intent, decided_by):
    decision = classify(query)
    assert decision.intent == intent, decision
    assert decision.reason.startswith(decided_by)


def test_a_query_with_an_identifier_leans_on_bm25_and_says_so(world, ingest):
    ingest(world.tenant, world.editor, "sku.md", "# Part QX-4471-B\nThe QX-4471-B torque sensor reads up to 400 Nm.")
    route = search(world.tenant, "QX-4471-B range", mode="auto")["route"]
    assert route["dense_weight"] == 0.35 and "identifier 'QX-4471-B'" in route["reason"]


POLICY = "# Travel policy\nTravel policy, edition of {year}. Meal allowance per day abroad: {value} EUR. Managers apply the travel policy everywhere."


def test_auto_prefers_the_policy_in_force_over_a_superseded_version(world, ingest):
    old = ingest(
        world.tenant, world.editor, "travel-2021.md", POLICY.format(year=2021, value=45), published_at=datetime(2021, 1, 15, tzinfo=UTC), authority=0.6
    )
    new = ingest(
        world.tenant, world.editor, "travel-2025.md", POLICY.format(year=2025, value=60), published_at=datetime(2025, 1, 15, tzinfo=UTC), authority=0.9
    )
    auto = search(world.tenant, "current travel policy meal allowance", mode="auto")
    assert auto["route"]["name"] == "company_facts" and auto["route"]["reason"].startswith("rule")
    assert [r["document_id"] for r in auto["results"][:2]] == [new.document.pk, old.document.pk]
    top = auto["results"][0]["scores"]
    assert top["recency"] > auto["results"][1]["scores"]["recency"]
    assert top["score"] == pytest.approx(
        top["fused"] + 0.15 * top["recency"] + 0.1 * (top["authority"] - 0.5) + 0.2 * top["preferred_source"] + 0.2 * top["feedback"], abs=1e-5
    )


def test_feedback_moves_a_result_up_and_only_for_the_tenant_that_gave_it(world, ingest):
    # Two near-equal answers: feedback decides between close candidates (it is not meant to
    # lift an irrelevant passage over a relevant one).
    a = ingest(world.tenant, world.editor, "a.md", "# Onboarding checklist\nNew hires get a laptop and a buddy on day one.").document
    b = ingest(world.tenant, world.editor, "b.md", "# Onboarding checklist\nNew hires get a laptop and a buddy on day one!").document
    query = "what do new hires get on day one"
    before = [r["document_id"] for r in search(world.tenant, query, mode="auto")["results"]]
    loser = b.pk if before[0] == a.pk else a.pk
    chunk = (a if loser == a.pk else b).chunks.first()
    # The other tenant's votes on our chunk id would be a cross-tenant leak: they must not count.
    Feedback.objects.create(tenant=world.other_tenant, chunk=chunk, value=-1)
    assert [r["document_id"] for r in search(world.tenant, query, mode="auto")["results"]] == before
    for member in (world.viewer, world.editor):
        Feedback.objects.create(tenant=world.tenant, chunk=chunk, value=1, user=member, query=query)
    after = search(world.tenant, query, mode="auto")["results"]
    assert after[0]["document_id"] == loser
    assert after[0]["scores"]["feedback"] > 0.7


def test_one_member_voting_again_and_again_changes_their_one_vote_and_cannot_stuff_the_ranking(world, ingest):
    a = ingest(world.tenant, world.editor, "a.md", "# Onboarding checklist\nNew hires get a laptop and a buddy on day one.").document
    b = ingest(world.tenant, world.editor, "b.md", "# Onboarding checklist\nNew hires get a laptop and a buddy on day one!").document
    query = "what do new hires get on day one"
    chunk = b.chunks.first()
    for _ in range(10):
        RecordFeedback(world.tenant, world.viewer, chunk_id=chunk.pk, value="up", query=query).execute()
    scores = {r["document_id"]: r["scores"]["feedback"] for r in search(world.tenant, query, mode="auto")["results"]}
    assert scores[b.pk] == pytest.approx(math.tanh(1 / 2)) and scores[a.pk] == 0.0
    service = RecordFeedback(world.tenant, world.viewer, chunk_id=chunk.pk, value="down", query=query)
    service.execute()
    assert not service.created
    assert list(Feedback.objects.values_list("user_id", "value")) == [(world.viewer.pk, -1)]
    RecordFeedback(world.tenant, world.editor, chunk_id=chunk.pk, value="down").execute()  # another member: another vote
    assert Feedback.objects.filter(chunk=chunk).count() == 2


def test_no_router_example_is_a_query_of_the_shipped_evaluation_set():
    """The classifier is trained on its own examples, never on the queries it is measured with."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    examples = {json.loads(line)["text"].lower() for line in (root / "data" / "router_examples.jsonl").read_text().splitlines() if line.strip()}
    queries = {json.loads(line)["text"].lower() for line in (root / "eval" / "acme-kb" / "queries.jsonl").read_text().splitlines() if line.strip()}
    assert not examples & queries


def test_bm25s_share_in_auto_shrinks_when_its_best_match_covers_little_of_the_query(world, ingest):
    from intelligence.rag import sparse

    ingest(world.tenant, world.editor, "travel.md", "# Booking business travel\nFlights and hotels are reserved through the travel portal.")
    ingest(world.tenant, world.editor, "sku.md", "# Part QX-4471-B\nThe QX-4471-B torque sensor reads up to 400 Nm.")
    index = sparse.index_for(world.tenant)
    rare = index.search("QX-4471-B", 1)[0][1]
    vague = index.search("arranging a work trip with plane tickets", 1)
    assert index.coverage("QX-4471-B", rare) > 0.6  # every term of the query matched
    assert not vague or index.coverage("arranging a work trip with plane tickets", vague[0][1]) < 0.3  # only "travel"-ish words
    top = search(world.tenant, "arranging a work trip with plane tickets", mode="auto")["results"][0]
    assert top["source"] == "travel.md"
    if top["scores"]["sparse"] is not None:
        assert top["scores"]["sparse_confidence"] < 0.3


def test_recency_counts_back_from_the_newest_candidate_not_from_today(world, ingest):
    old = ingest(world.tenant, world.editor, "a.md", POLICY.format(year=2001, value=1), published_at=datetime(2001, 1, 1, tzinfo=UTC)).document
    new = ingest(world.tenant, world.editor, "b.md", POLICY.format(year=2002, value=2), published_at=datetime(2002, 1, 1, tzinfo=UTC)).document
    results = {r["document_id"]: r["scores"] for r in search(world.tenant, "current travel policy meal allowance", mode="auto")["results"]}
    assert results[new.pk]["recency"] == pytest.approx(1.0)  # the newest candidate, however old
    assert results[old.pk]["recency"] == pytest.approx(0.5, abs=0.01)  # one half-life (365 days) older
