"""Models of the intelligence app (defined in intelligence.rag.models)."""

from intelligence.rag.models import Chunk, CorpusVersion, Document, DocumentStatus, Feedback, SourceType

__all__ = ["Chunk", "CorpusVersion", "Document", "DocumentStatus", "Feedback", "SourceType"]
