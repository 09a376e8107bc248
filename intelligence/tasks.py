"""Celery discovers the intelligence app's tasks here."""

from intelligence.rag.tasks import embed_chunks, reembed_stale

__all__ = ["embed_chunks", "reembed_stale"]
