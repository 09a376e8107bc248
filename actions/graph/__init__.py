"""Knowledge-graph steps: competitors, neighbours and paths, inferred relations, upserts."""

from actions.graph import steps  # noqa: F401  (importing registers the actions)
