"""A 384-float embedding column: pgvector's `vector(n)` on PostgreSQL, float32 bytes on SQLite.

SQLite (the embedded default) has no vector type; storing raw float32 keeps a tenant's
vectors small and quick to load into one matrix for the exact in-process search.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pgvector.django import VectorField


class EmbeddingField(VectorField):
    def db_type(self, connection) -> str:
        if connection.vendor == "postgresql":
            return super().db_type(connection)
        return "blob"

    def get_db_prep_value(self, value: Any, connection, prepared: bool = False) -> Any:
        if connection.vendor == "postgresql" or value is None:
            return super().get_db_prep_value(value, connection, prepared)
        array = np.asarray(value, dtype=np.float32)
        if array.shape != (self.dimensions,):
            raise ValueError(f"expected {self.dimensions} dimensions, not {array.shape}")
        return array.tobytes()

    def from_db_value(self, value: Any, expression, connection) -> Any:
        if isinstance(value, bytes | memoryview):
            return np.frombuffer(bytes(value), dtype=np.float32)
        return super().from_db_value(value, expression, connection)
