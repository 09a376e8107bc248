"""Models of the intelligence app (defined in intelligence.rag.models)."""

from intelligence.rag.models import Chunk, Document, DocumentStatus, Feedback, SourceType

__all__ = ["Chunk", "Document", "DocumentStatus", "Feedback", "SourceType"]
