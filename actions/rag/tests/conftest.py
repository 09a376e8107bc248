"""The RAG steps' tests embed inline, like the retrieval tests."""

from intelligence.rag.tests.fixtures import ingest, ingest_file, inline_embedding  # noqa: F401  (fixtures)
