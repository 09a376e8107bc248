"""The rag.* steps against the real store, model and a local HTTP server: happy paths, bad
configs, and that a step only ever sees its own tenant's documents."""

from __future__ import annotations

import pytest

from actions.sdk import ActionError
from actions.web.tests.server import reply, serve
from circuits.records.models import Record
from intelligence.rag.models import Document, Feedback
from tests.actions.steps import family

pytestmark = pytest.mark.django_db

PRICING = "# Globex pricing\nGlobex charges 49 EUR per device per month and has no on-premise option."
PLAYBOOK = "# Discovery calls\nOpen with the prospect's goals, ask about their tooling and budget, and agree on a next step."


step, run = family("rag")


@pytest.fixture
def kb(world, ingest):
    ingest(world.tenant, world.editor, "globex.md", PRICING, tags=["competitor"])
    ingest(world.tenant, world.editor, "discovery.md", PLAYBOOK, tags=["best-practice"])
    ingest(world.other_tenant, world.outsider, "theirs.md", "# Globex pricing\nGlobex charges 10 EUR per device. Discovery calls open with goals.")


def test_retrieve_company_intel_returns_passages_citations_an_answer_and_the_route(world, kb):
    out = run(world.tenant, "rag.retrieve_company_intel", {"query": "how does Globex price its product", "k": 3})
    assert out["route"]["name"] in {"company_facts", "competitor", "recent_news"} and out["route"]["reason"]
    top = out["passages"][0]
    assert top["source"] == "globex.md" and "49 EUR" in top["text"] and top["scores"]["fused"] is not None
    assert {p["source"] for p in out["passages"]} <= {"globex.md", "discovery.md"}  # never the other tenant's
    sentence = out["answer"]["sentences"][0]
    document = Document.objects.get(pk=sentence["citation"]["document_id"])
    assert document.tenant_id == world.tenant.pk
    assert document.text[sentence["citation"]["start"] : sentence["citation"]["end"]] == sentence["text"]
    assert "49 EUR" in out["answer"]["text"]
    assert out["citations"][0] == top["citation"]
    assert step("rag.retrieve_company_intel").side_effects is False


def test_retrieve_best_practices_routes_only_to_best_practice_intents(world, kb):
    out = run(world.tenant, "rag.retrieve_best_practices", {"query": "tips for a first call with a prospect versus Globex", "k": 2})
    assert out["route"]["name"] in {"best_practice", "how_to"}  # "versus" would be the competitor rule elsewhere
    assert out["passages"][0]["source"] == "discovery.md"


@pytest.mark.parametrize(
    ("name", "config", "fragment"),
    [
        ("rag.retrieve_company_intel", {}, "'query' is a required property"),
        ("rag.retrieve_company_intel", {"query": "x", "k": 0}, "k: 0 is less than the minimum of 1"),
        ("rag.retrieve_best_practices", {"query": "x", "filters": {"colour": "red"}}, "filters"),
        ("rag.retrieve_best_practices", {"query": "x", "mode": "dense"}, "Additional properties"),
        ("rag.ingest_document", {}, "exactly one of text, url or object_type"),
        ("rag.ingest_document", {"text": "a", "url": "https://example.com"}, "exactly one of text, url or object_type"),
        ("rag.ingest_document", {"text": "Some text."}, "source: is required with text"),
        ("rag.ingest_document", {"object_type": "account"}, "record_id: is required"),
        ("rag.ingest_document", {"text": "a", "source": "a", "authority": 2}, "authority: 2 is greater than the maximum of 1"),
        ("rag.record_feedback", {"chunk_id": 1}, "'value' is a required property"),
        ("rag.record_feedback", {"chunk_id": 1, "value": "meh"}, "value: 'meh' is not one of"),
    ],
)
def test_bad_configs_are_refused_naming_the_field(name, config, fragment):
    errors = step(name).validate_config(config)
    assert errors and any(fragment in e for e in errors), errors


def test_ingest_document_from_text_then_unchanged_then_changed(world, inline_embedding):
    config = {"text": "# Notes\nThe kickoff is on Monday.", "source": "notes.md", "tags": ["Meeting"], "published_at": "2025-03-01"}
    first = run(world.tenant, "rag.ingest_document", config)
    document = Document.objects.for_tenant(world.tenant).get(pk=first["document_id"])
    assert first["changed"] and first["chunk_count"] == 1 and document.tags == ["meeting"] and document.published_at.year == 2025
    assert not run(world.tenant, "rag.ingest_document", config)["changed"]
    assert run(world.tenant, "rag.ingest_document", {**config, "text": "# Notes\nThe kickoff moved to Tuesday."})["changed"]
    assert not Document.objects.for_tenant(world.other_tenant).exists()


def test_ingest_document_fetches_a_page_through_the_outbound_guard(world, inline_embedding):
    page = (
        "<html><head><title>Initech launch</title></head><body><article><h1>Initech launches Sensorly</h1>"
        "<p>Initech announced Sensorly, a monitoring suite priced at 39 EUR.</p></article></body></html>"
    )
    with serve({"/launch": reply(200, page, "text/html; charset=utf-8")}) as server:
        with pytest.raises(ActionError, match=r"(?i)not allowed|blocked|private|loopback"):
            run(world.tenant, "rag.ingest_document", {"url": server.url("/launch")})
        world.tenant.outbound_allowlist = [server.allow]
        world.tenant.save(update_fields=["outbound_allowlist"])
        out = run(world.tenant, "rag.ingest_document", {"url": server.url("/launch"), "tags": ["news"]})
    document = Document.objects.for_tenant(world.tenant).get(pk=out["document_id"])
    assert document.source_type == "url" and document.title == "Initech launch" and "39 EUR" in document.text


def test_ingest_document_from_a_record_only_of_its_own_tenant(world, inline_embedding):
    ours = Record.objects.create(tenant=world.tenant, object_type="account", data={"name": "Initech", "plan": "enterprise"})
    theirs = Record.objects.create(tenant=world.other_tenant, object_type="account", data={"name": "Secret Co"})
    out = run(world.tenant, "rag.ingest_document", {"object_type": "account", "record_id": ours.pk})
    assert out["source"] == f"record:account:{ours.pk}"
    with pytest.raises(ActionError, match="not found"):
        run(world.tenant, "rag.ingest_document", {"object_type": "account", "record_id": theirs.pk})


def test_record_feedback_stores_a_vote_in_the_tenant_and_refuses_another_tenants_passage(world, kb):
    passage = run(world.tenant, "rag.retrieve_company_intel", {"query": "Globex price"})["passages"][0]
    out = run(world.tenant, "rag.record_feedback", {"chunk_id": str(passage["chunk_id"]), "value": "up", "query": "Globex price"})
    vote = Feedback.objects.get(pk=out["feedback_id"])
    assert (vote.tenant_id, vote.chunk_id, vote.value, vote.user) == (world.tenant.pk, passage["chunk_id"], 1, None)
    theirs = Document.objects.for_tenant(world.other_tenant).get().chunks.first()
    with pytest.raises(ActionError, match=f"No passage {theirs.pk} in this tenant"):
        run(world.tenant, "rag.record_feedback", {"chunk_id": theirs.pk, "value": "down"})
    assert not Feedback.objects.filter(chunk=theirs).exists()


def test_ingest_document_reads_a_published_at_offset_postgres_does_not_know_in_utc_and_refuses_impossible_dates(world, inline_embedding):
    config = {"text": "# Notes\nThe kickoff is on Monday.", "source": "notes.md", "published_at": "2025-03-01T00:00:00-23:59"}
    out = run(world.tenant, "rag.ingest_document", config)
    assert Document.objects.get(pk=out["document_id"]).published_at.isoformat() == "2025-03-01T23:59:00+00:00"
    for value, fragment in [("9999-12-31T23:59:59-01:00", "published_at: 9999-12-31T23:59:59-01:00 is outside"), ("2025-02-30", "not an ISO 8601 date")]:
        with pytest.raises(ActionError, match=fragment):
            run(world.tenant, "rag.ingest_document", {**config, "source": "other.md", "published_at": value})
    assert Document.objects.count() == 1


def test_record_and_passage_ids_in_digits_other_than_ascii_are_not_found_rather_than_a_crash(world, kb):
    record = Record.objects.create(tenant=world.tenant, object_type="account", data={"name": "Initech"})
    for record_id in ("²", "١"):
        with pytest.raises(ActionError, match="not found"):
            run(world.tenant, "rag.ingest_document", {"object_type": "account", "record_id": record_id})
    with pytest.raises(ActionError, match="chunk_id: Give the id of a passage"):
        run(world.tenant, "rag.record_feedback", {"chunk_id": "²", "value": "up"})
    assert record.pk and not Feedback.objects.exists()
