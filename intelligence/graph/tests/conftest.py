"""Graph tests share a small market, built through the services, and the inline ingestion fixtures."""

from intelligence.graph.tests.fixtures import Market, build_market, market  # noqa: F401  (fixtures)
from intelligence.rag.tests.fixtures import ingest, inline_embedding  # noqa: F401  (fixtures)
