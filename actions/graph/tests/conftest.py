"""The graph steps' tests use the graph tests' market."""

from intelligence.graph.tests.fixtures import market  # noqa: F401  (fixtures)
