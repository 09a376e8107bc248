"""Celery discovers the intelligence app's tasks here."""

from intelligence.ml.tasks import retrain_due, train_model
from intelligence.rag.tasks import embed_chunks, reembed_stale

__all__ = ["embed_chunks", "reembed_stale", "retrain_due", "train_model"]
