"""Models of the intelligence app (defined in intelligence.rag.models, intelligence.ml.models and intelligence.graph.models)."""

from intelligence.graph.models import Entity, EntityKind, Origin, Relation, RelationType, Suggestion, SuggestionStatus
from intelligence.ml.models import ModelDefinition, ModelVersion, Prediction
from intelligence.rag.models import Chunk, CorpusVersion, Document, DocumentStatus, Feedback, SourceType

__all__ = [
    "Chunk", "CorpusVersion", "Document", "DocumentStatus", "Entity", "EntityKind", "Feedback", "ModelDefinition", "ModelVersion",
    "Origin", "Prediction", "Relation", "RelationType", "SourceType", "Suggestion", "SuggestionStatus",
]  # fmt: skip
