"""Hybrid search on PostgreSQL + pgvector through the real model, index and database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from intelligence.rag import dense, sparse
from intelligence.rag.embeddings import configured_model_id, get_embedder
from intelligence.rag.models import Chunk
from intelligence.rag.search import fuse, minmax, search
from tests.fixtures import needs_postgres

pytestmark = pytest.mark.django_db

DOCS = {
    "refunds.md": "# Refund policy\nCustomers may return a purchase within 30 days for their money back. Refunds go to the original card.",
    "shipping.md": "# Shipping\nParcels leave the warehouse in Rotterdam every weekday. Delivery inside the EU takes two to four days.",
    "sku.md": "# Part catalogue\nThe torque sensor ZX-4471-Q is sold in packs of ten. Its calibration certificate is renewed yearly.",
    "security.md": "# Security\nLaptops use full-disk encryption. Report a lost badge to the security desk within one hour.",
    "onboarding.md": "# Onboarding\nNew hires meet their buddy on day one and finish compliance training in the first week.",
}


@pytest.fixture
def corpus(world, ingest):
    docs = {name: ingest(world.tenant, world.editor, name, text).document for name, text in DOCS.items()}
    # The other tenant has a document that matches every query below better than ours do.
    rival = ingest(
        world.other_tenant,
        world.outsider,
        "rival.md",
        "# Globex secrets\nRefunds within 30 days for money back; shipping from Rotterdam; torque sensor ZX-4471-Q; lost badge encryption.",
    ).document
    return {"docs": docs, "rival": rival}


def titles(response) -> list[str]:
    return [r["source"] for r in response["results"]]


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid", "auto"])
def test_each_mode_finds_the_right_document_and_never_another_tenants(world, corpus, mode):
    for query, expected in [
        ("how do I get my money back", "refunds.md"),
        ("Rotterdam warehouse shipping", "shipping.md"),
        ("lost badge", "security.md"),
    ]:
        response = search(world.tenant, query, k=5, mode=mode)
        assert titles(response)[0] == expected, (mode, query, titles(response))
        assert corpus["rival"].pk not in {r["document_id"] for r in response["results"]}
        assert all(r["document_id"] in {d.pk for d in corpus["docs"].values()} for r in response["results"])


def test_a_rare_identifier_is_found_by_bm25_and_hybrid_keeps_it_first(world, corpus):
    sparse_top = titles(search(world.tenant, "ZX-4471-Q", k=3, mode="sparse"))
    hybrid_top = titles(search(world.tenant, "ZX-4471-Q", k=3, mode="hybrid"))
    assert sparse_top[0] == "sku.md" and hybrid_top[0] == "sku.md"


def test_sparse_search_has_or_semantics_one_matching_term_is_enough(world, corpus):
    response = search(world.tenant, "quantum blockchain Rotterdam synergy", k=5, mode="sparse")
    assert titles(response) == ["shipping.md"]
    assert search(world.tenant, "quantum blockchain synergy", k=5, mode="sparse")["results"] == []


def test_stemming_lets_a_plural_find_the_singular(world, corpus):
    assert titles(search(world.tenant, "refunding purchases", k=1, mode="sparse")) == ["refunds.md"]


def test_the_other_tenant_sees_only_its_own_document_in_every_mode(world, corpus):
    for mode in ("dense", "sparse", "hybrid"):
        response = search(world.other_tenant, "money back refunds", k=10, mode=mode)
        assert {r["document_id"] for r in response["results"]} == {corpus["rival"].pk}


def test_a_tenant_without_documents_gets_no_results_not_another_tenants(world, ingest):
    ingest(world.other_tenant, world.outsider, "rival.md", "Refunds within 30 days.")
    for mode in ("dense", "sparse", "hybrid", "auto"):
        assert search(world.tenant, "refunds", mode=mode)["results"] == []


def test_citations_point_at_the_exact_text_of_the_document(world, corpus):
    response = search(world.tenant, "calibration certificate", k=3)
    for result in response["results"]:
        document = corpus["docs"][result["source"]]
        assert document.text[result["start"] : result["end"]] == result["text"]
        citation = result["citation"]
        assert (citation["document_id"], citation["start"], citation["end"]) == (document.pk, result["start"], result["end"])
        assert citation["url"] == f"/t/acme/documents/{document.pk}#chunk-{citation['ordinal']}"


def test_every_result_carries_its_score_breakdown(world, corpus):
    top = search(world.tenant, "lost badge encryption", k=3, mode="hybrid", dense_weight=0.6)["results"][0]
    scores = top["scores"]
    assert set(scores) >= {"dense", "sparse", "dense_norm", "sparse_norm", "fused"}
    assert scores["fused"] == pytest.approx(0.6 * scores["dense_norm"] + 0.4 * scores["sparse_norm"], abs=1e-5)
    assert top["score"] == pytest.approx(scores["fused"], abs=1e-5)


def test_weighted_fusion_normalises_each_side_and_rrf_is_available():
    assert minmax({1: 2.0, 2: 4.0, 3: 3.0}) == {1: 0.0, 2: 1.0, 3: 0.5}
    assert minmax({1: 0.3}) == {1: 1.0}
    assert minmax({1: 0.80, 2: 0.78}, 0.25) == pytest.approx({1: 1.0, 2: 0.92})  # near-equal stay near
    fused = fuse([(1, 0.9), (2, 0.5)], [(2, 12.0), (3, 4.0)], fusion="weighted", dense_weight=0.6)
    assert fused[1]["fused"] == pytest.approx(0.6)  # best dense, absent from sparse
    assert fused[2]["fused"] == pytest.approx(0.4)  # worst dense, best sparse
    assert fused[3]["fused"] == pytest.approx(0.0)
    rrf = fuse([(1, 0.9), (2, 0.5)], [(2, 12.0), (3, 4.0)], fusion="rrf", dense_weight=0.6)
    assert rrf[2]["fused"] == pytest.approx(1 / 62 + 1 / 61)
    assert max(rrf, key=lambda pk: rrf[pk]["fused"]) == 2


def test_filters_restrict_by_tag_type_authority_and_date_in_every_mode(world, ingest):
    from datetime import UTC, datetime

    old = ingest(world.tenant, world.editor, "policy-2022.md", "# Travel policy\nEconomy class on all flights.", tags=["policy"], authority=0.4,
                 published_at=datetime(2022, 1, 1, tzinfo=UTC)).document  # fmt: skip
    new = ingest(world.tenant, world.editor, "policy-2025.md", "# Travel policy\nEconomy class except flights over six hours.", tags=["policy"],
                 authority=0.9, published_at=datetime(2025, 1, 1, tzinfo=UTC)).document  # fmt: skip
    blog = ingest(world.tenant, world.editor, "blog.md", "# Our travel tips\nBook flights early.", tags=["blog"]).document
    for mode in ("dense", "sparse", "hybrid"):

        def ids(f, mode=mode):
            return {r["document_id"] for r in search(world.tenant, "travel flights policy", k=10, mode=mode, filters=f)["results"]}

        assert ids({"tags": ["policy"]}) == {old.pk, new.pk}
        assert ids({"tags": ["blog"]}) == {blog.pk}
        assert ids({"min_authority": 0.8}) == {new.pk}
        assert ids({"published_after": "2024-01-01"}) == {new.pk}
        assert ids({"documents": [old.pk]}) == {old.pk}
        assert ids({"tags": ["nothing-has-this"]}) == set()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": "x" * 1001}, "query"),
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"mode": "magic"}, "mode"),
        ({"fusion": "max"}, "fusion"),
        ({"filters": {"colour": "red"}}, "filters"),
        ({"filters": {"source_types": ["docx"]}}, "filters.source_types"),
        ({"filters": {"published_after": "last tuesday"}}, "filters.published_after"),
        ({"filters": {"min_authority": 3}}, "filters.min_authority"),
        ({"filters": {"published_before": "9999-12-31T23:59:59-01:00"}}, "filters.published_before"),
    ],
)
def test_bad_search_input_is_refused_naming_the_field(world, kwargs, field):
    params = {"query": "refunds", **kwargs}
    with pytest.raises(ValidationError) as caught:
        search(world.tenant, params.pop("query"), **params)
    assert field in caught.value.message_dict


def test_a_deleted_document_leaves_the_sparse_index_at_once(world, corpus):
    from intelligence.rag.ingest import DeleteDocument

    assert titles(search(world.tenant, "Rotterdam", mode="sparse"))
    DeleteDocument(world.tenant, world.editor, corpus["docs"]["shipping.md"]).execute()
    assert titles(search(world.tenant, "Rotterdam", mode="sparse")) == []
    assert sparse.index_for(world.tenant).size == Chunk.objects.for_tenant(world.tenant).count()


@needs_postgres()
def test_hnsw_search_runs_with_iterative_scan_and_agrees_with_the_exact_scan(world, ingest, settings):
    for i in range(40):
        ingest(world.tenant, world.editor, f"note-{i}.md", f"# Note {i}\nItem {i} is stored on shelf {i % 7} in aisle {i % 5} of depot {i % 3}.")
    ingest(world.other_tenant, world.outsider, "theirs.md", "# Note\nItem 3 is stored on shelf 3 in aisle 3.")
    vector = get_embedder().embed(["where is item 12 stored"])[0]
    chunks = Chunk.objects.for_tenant(world.tenant).filter(embedding_model=configured_model_id())
    exact = dense.search_postgres(chunks, vector, 10, exact=True)
    settings.RAG_HNSW_EF_SEARCH = 123
    with CaptureQueriesContext(connection) as captured:
        approximate = dense.search_postgres(chunks, vector, 10, exact=False)
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    assert "SET LOCAL hnsw.ef_search = 123" in sql and "SET LOCAL hnsw.iterative_scan = relaxed_order" in sql
    assert [pk for pk, _ in approximate] == [pk for pk, _ in exact]
    assert [s for _, s in approximate] == sorted((s for _, s in approximate), reverse=True)
    theirs = set(Chunk.objects.for_tenant(world.other_tenant).values_list("pk", flat=True))
    assert not theirs & {pk for pk, _ in approximate}
    # The HNSW index exists and serves cosine ordering (forced: the planner prefers a scan of 40 rows).
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            from pgvector.django import CosineDistance

            plan = Chunk.objects.annotate(d=CosineDistance("embedding", vector.tolist())).order_by("d")[:10].explain()
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "rag_chunk_embedding_hnsw" in plan
    settings.RAG_EXACT_SCAN_BELOW = 0  # the whole search takes the HNSW path now
    with CaptureQueriesContext(connection) as captured:
        response = search(world.tenant, "where is item 12 stored", k=10, mode="dense")
    assert "hnsw.iterative_scan" in " ".join(q["sql"] for q in captured.captured_queries)
    assert [r["chunk_id"] for r in response["results"]] == [pk for pk, _ in exact]


def test_the_in_process_vector_search_used_on_sqlite_ranks_like_postgres_exact(world, corpus):
    vector = get_embedder().embed(["encryption of laptops"])[0]
    in_process = dense.matrix_for(world.tenant, configured_model_id()).search(vector, 5)
    if connection.vendor == "postgresql":
        exact = dense.search_postgres(Chunk.objects.for_tenant(world.tenant).filter(embedding_model=configured_model_id()), vector, 5, exact=True)
        assert [pk for pk, _ in in_process] == [pk for pk, _ in exact]
        assert [s for _, s in in_process] == pytest.approx([s for _, s in exact], abs=1e-3)
    rival_chunks = set(Chunk.objects.for_tenant(world.other_tenant).values_list("pk", flat=True))
    assert not rival_chunks & {pk for pk, _ in in_process}


def test_a_big_tenants_bm25_index_may_lag_for_new_chunks_but_never_shows_deleted_ones(world, corpus, ingest, settings):
    from intelligence.rag.ingest import DeleteDocument

    settings.RAG_SPARSE_LAZY_ABOVE, settings.RAG_SPARSE_MAX_STALE_SECONDS = 1, 600  # every tenant is "big" here
    assert titles(search(world.tenant, "Rotterdam", mode="sparse")) == ["shipping.md"]
    ingest(world.tenant, world.editor, "depot.md", "# Depot\nOur Rotterdam depot stores spare parts.")
    DeleteDocument(world.tenant, world.editor, corpus["docs"]["shipping.md"]).execute()
    assert titles(search(world.tenant, "Rotterdam", mode="sparse")) == []  # the stale index still has shipping.md: it is dropped
    settings.RAG_SPARSE_MAX_STALE_SECONDS = 0
    assert titles(search(world.tenant, "Rotterdam", mode="sparse")) == ["depot.md"]


def test_renaming_a_document_reindexes_its_title(world, corpus):
    from intelligence.rag.ingest import UpdateDocument

    assert search(world.tenant, "Zanzibar", mode="sparse")["results"] == []
    UpdateDocument(world.tenant, world.editor, corpus["docs"]["onboarding.md"], {"title": "Zanzibar onboarding"}).execute()
    assert titles(search(world.tenant, "Zanzibar", mode="sparse")) == ["onboarding.md"]


def test_a_date_filter_with_an_offset_postgres_does_not_know_is_read_in_utc(world, ingest):
    # Python reads offsets up to ±23:59; PostgreSQL refuses past ±15:59 (it was a 500).
    ingest(world.tenant, world.editor, "old.md", "# Refunds\nRefunds within 30 days.", published_at=datetime(2020, 1, 1, tzinfo=UTC))
    ingest(world.tenant, world.editor, "new.md", "# Refunds\nRefunds within 14 days.", published_at=datetime(2025, 1, 2, tzinfo=UTC))
    response = search(world.tenant, "refunds", mode="sparse", filters={"published_after": "2025-01-01T00:00:00-23:59"})
    assert [r["source"] for r in response["results"]] == ["new.md"]
    assert response["filters"]["published_after"] == "2025-01-01T23:59:00+00:00"
