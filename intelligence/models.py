"""Models of the intelligence app (defined in intelligence.rag.models and intelligence.ml.models)."""

from intelligence.ml.models import ModelDefinition, ModelVersion, Prediction
from intelligence.rag.models import Chunk, CorpusVersion, Document, DocumentStatus, Feedback, SourceType

__all__ = ["Chunk", "CorpusVersion", "Document", "DocumentStatus", "Feedback", "ModelDefinition", "ModelVersion", "Prediction", "SourceType"]
