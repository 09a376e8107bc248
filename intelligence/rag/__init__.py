"""Retrieval over each tenant's documents: ingestion, embeddings, hybrid search, evaluation."""
