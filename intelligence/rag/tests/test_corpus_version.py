"""Every way the corpus changes bumps the tenant's corpus version, so the next search sees it.

Each test searches first (building the in-process BM25 index / vector matrix), changes the
corpus through one path, and searches again: a stale index would return the old passage.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.db import transaction

from intelligence.management.commands.rag_eval import ingest_corpus
from intelligence.rag import dense, sparse
from intelligence.rag.chunking import indexed_text
from intelligence.rag.embeddings import configured_model_id, get_embedder
from intelligence.rag.ingest import DeleteDocument, IngestDocument, UpdateDocument
from intelligence.rag.models import Chunk, CorpusVersion, Document, DocumentStatus
from intelligence.rag.search import search
from intelligence.rag.vectors import embed_chunks

pytestmark = pytest.mark.django_db

PARROTS = "Parrots\n\nThe macaw is a colourful parrot that lives in rainforests."
KETTLES = "Kettles\n\nAn electric kettle boils water for tea in two minutes."


def found(tenant, query: str, mode: str = "sparse") -> list[str]:
    return [r["text"] for r in search(tenant, query, k=10, mode=mode)["results"]]


def sources(tenant, query: str, mode: str = "sparse") -> set[str]:
    return {r["source"] for r in search(tenant, query, k=10, mode=mode)["results"]}


def test_a_new_document_is_found_by_the_next_search(world, ingest):
    ingest(world.tenant, world.editor, "parrots.md", PARROTS)
    assert sources(world.tenant, "kettle boils water") == set()
    ingest(world.tenant, world.editor, "kettles.md", KETTLES)
    assert sources(world.tenant, "kettle boils water") == {"kettles.md"}


def test_re_ingesting_changed_content_drops_the_old_words_and_finds_the_new(world, ingest):
    ingest(world.tenant, world.editor, "birds.md", PARROTS)
    assert sources(world.tenant, "macaw") == {"birds.md"}
    ingest(world.tenant, world.editor, "birds.md", "Birds\n\nThe cockatoo has a crest of yellow feathers.")
    assert sources(world.tenant, "macaw") == set()
    assert sources(world.tenant, "cockatoo crest") == {"birds.md"}


@pytest.mark.parametrize("how", ["service", "queryset", "chunks"])
@pytest.mark.parametrize("mode", ["sparse", "hybrid"])
def test_a_deleted_document_is_never_returned_again(world, ingest, how, mode):
    ingest(world.tenant, world.editor, "parrots.md", PARROTS)
    document = ingest(world.tenant, world.editor, "kettles.md", KETTLES).document
    before = CorpusVersion.of(world.tenant.pk)
    assert "kettles.md" in sources(world.tenant, "electric kettle", mode)
    if how == "service":
        DeleteDocument(world.tenant, world.editor, document).execute()
    elif how == "queryset":
        Document.objects.for_tenant(world.tenant).filter(pk=document.pk).delete()
    else:
        document.chunks.all().delete()
    after = CorpusVersion.of(world.tenant.pk)
    assert after[0] > before[0] and after[1] > before[1]
    assert "kettles.md" not in sources(world.tenant, "electric kettle", mode)


def test_the_bm25_index_itself_is_rebuilt_after_a_delete_not_just_filtered(world, ingest):
    # Results are read back from the database, which hides a deleted chunk even from a stale
    # index; the index's own idea of the corpus must follow too (its size is what search uses).
    ingest(world.tenant, world.editor, "parrots.md", PARROTS)
    document = ingest(world.tenant, world.editor, "kettles.md", KETTLES).document
    assert sparse.index_for(world.tenant).size == 2
    DeleteDocument(world.tenant, world.editor, document).execute()
    assert sparse.index_for(world.tenant).size == 1


def test_a_bulk_update_of_chunk_text_is_seen_by_bm25(world, ingest):
    document = ingest(world.tenant, world.editor, "parrots.md", PARROTS).document
    assert found(world.tenant, "toucan") == []
    Chunk.objects.for_tenant(world.tenant).filter(document=document).update(text="The toucan has a huge beak.")
    assert found(world.tenant, "toucan") == ["The toucan has a huge beak."]


def test_a_single_chunk_saved_is_seen_by_bm25(world, ingest):
    document = ingest(world.tenant, world.editor, "parrots.md", PARROTS).document
    assert found(world.tenant, "toucan") == []
    chunk = document.chunks.first()
    chunk.text = "A toucan, not a macaw."
    chunk.save(update_fields=["text"])
    assert found(world.tenant, "toucan") == ["A toucan, not a macaw."]


def test_a_new_title_is_searchable_at_once(world, ingest):
    document = ingest(world.tenant, world.editor, "parrots.md", PARROTS).document
    assert sources(world.tenant, "ornithology") == set()
    UpdateDocument(world.tenant, world.editor, document, {"title": "Ornithology notes"}).execute()
    assert sources(world.tenant, "ornithology") == {"parrots.md"}


def embedded_with_title(document: Document, title: str) -> bool:
    """Every chunk of `document` holds the configured model's vector of its text under `title`."""
    chunks = list(document.chunks.order_by("ordinal"))
    expected = get_embedder().embed([indexed_text(title, c.heading, c.text) for c in chunks])
    return all(c.embedding_model == configured_model_id() and np.allclose(np.asarray(c.embedding), e, atol=1e-5) for c, e in zip(chunks, expected, strict=True))


def test_renaming_a_document_embeds_its_chunks_again_with_the_new_title(world, ingest, django_capture_on_commit_callbacks):
    document = ingest(world.tenant, world.editor, "parrots.md", PARROTS).document
    assert embedded_with_title(document, "Parrots")
    vectors_before = CorpusVersion.of(world.tenant.pk)[1]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        UpdateDocument(world.tenant, world.editor, document, {"title": "Ornithology notes"}).execute()
    # Until the task has run, the chunks are pending like a fresh ingest's: the dense side skips
    # their vectors of the old title, the document shows its progress from zero.
    document.refresh_from_db()
    assert (document.status, document.embedded_count) == (DocumentStatus.EMBEDDING, 0)
    assert set(document.chunks.values_list("embedding_model", flat=True)) == {""}
    assert CorpusVersion.of(world.tenant.pk)[1] > vectors_before
    assert sources(world.tenant, "colourful parrot", mode="dense") == set()
    for callback in callbacks:  # the commit: the embedding task (inline here)
        callback()
    document.refresh_from_db()
    assert (document.status, document.embedded_count) == (DocumentStatus.READY, document.chunk_count)
    assert embedded_with_title(document, "Ornithology notes")
    assert sources(world.tenant, "colourful parrot", mode="dense") == {"parrots.md"}


def test_re_ingesting_the_same_text_under_a_new_title_embeds_it_again_and_the_same_title_does_not(world, ingest, django_capture_on_commit_callbacks):
    document = ingest(world.tenant, world.editor, "parrots.md", PARROTS, title="Parrots").document
    with django_capture_on_commit_callbacks(execute=True) as unchanged:
        UpdateDocument(world.tenant, world.editor, document, {"title": "Parrots", "tags": ["birds"]}).execute()
        IngestDocument.from_text(world.tenant, world.editor, text=PARROTS, source="parrots.md", title="Parrots").execute()
    assert unchanged == [] and Document.objects.get(pk=document.pk).status == DocumentStatus.READY
    with django_capture_on_commit_callbacks(execute=True) as renamed:
        result = IngestDocument.from_text(world.tenant, world.editor, text=PARROTS, source="parrots.md", title="Birds of the rainforest").execute()
    assert result.changed is False and len(renamed) == 1
    assert embedded_with_title(Document.objects.get(pk=document.pk), "Birds of the rainforest")


def test_re_embedding_bumps_the_vector_version_and_the_matrix_follows(world, ingest):
    document = ingest(world.tenant, world.editor, "parrots.md", PARROTS).document
    model_id = configured_model_id()
    assert len(dense.matrix_for(world.tenant, model_id).chunk_ids) == 1
    # Vectors from another model: the dense side no longer counts them …
    document.chunks.update(embedding_model="some-old-model")
    assert len(dense.matrix_for(world.tenant, model_id).chunk_ids) == 0
    assert search(world.tenant, "colourful parrot", mode="dense")["results"] == []
    # … until re-embedding stores new ones, which the next search sees.
    before = CorpusVersion.of(world.tenant.pk)
    assert embed_chunks(world.tenant.pk, list(document.chunks.values_list("pk", flat=True))) == 1
    after = CorpusVersion.of(world.tenant.pk)
    assert after[1] == before[1] + 1 and after[0] == before[0]  # the text did not change: BM25 keeps its index
    assert len(dense.matrix_for(world.tenant, model_id).chunk_ids) == 1
    assert [r["source"] for r in search(world.tenant, "colourful parrot", mode="dense")["results"]] == ["parrots.md"]


def test_rag_eval_loading_into_a_searched_tenant_is_seen(world, inline_embedding):
    ingest_corpus(world.tenant, world.editor, [{"_id": "p1", "title": "Parrots", "text": "The macaw is a colourful parrot."}])
    assert sources(world.tenant, "kettle") == set()
    ingest_corpus(world.tenant, world.editor, [{"_id": "k1", "title": "Kettles", "text": "An electric kettle boils water."}])
    assert sources(world.tenant, "kettle") == {"k1"}


def test_the_version_is_bumped_in_the_same_transaction_as_the_chunks(world, ingest):
    document = ingest(world.tenant, world.editor, "parrots.md", PARROTS).document
    before = CorpusVersion.of(world.tenant.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        document.chunks.update(text="rolled back")
        assert CorpusVersion.of(world.tenant.pk)[0] == before[0] + 1
        raise RuntimeError
    assert CorpusVersion.of(world.tenant.pk) == before  # rolled back with the chunks
    assert found(world.tenant, "macaw") != []


def test_a_change_in_one_tenant_leaves_the_others_version_alone(world, ingest):
    ingest(world.tenant, world.editor, "parrots.md", PARROTS)
    other = ingest(world.other_tenant, world.outsider, "kettles.md", KETTLES).document
    before = CorpusVersion.of(world.tenant.pk)
    DeleteDocument(world.other_tenant, world.outsider, other).execute()
    assert CorpusVersion.of(world.tenant.pk) == before
