"""Retrieval tests embed inline unless they start a worker."""

from intelligence.rag.tests.fixtures import ingest, ingest_file, inline_embedding  # noqa: F401  (fixtures)
