"""What retrieval tells the layers above it, so they react without ingestion importing them.

`document_ingested` is sent after an ingestion that changed a document's text committed.
Arguments: tenant_id, document_id.
"""

from __future__ import annotations

from django.dispatch import Signal

document_ingested = Signal()
