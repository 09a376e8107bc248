"""Retrieval steps: search the tenant's documents (through the router), ingest, record feedback."""

from actions.rag import steps  # noqa: F401  (importing registers the actions)
