"""The knowledge graph of each tenant's market: entities, typed relations, queries, inference."""
