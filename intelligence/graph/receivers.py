"""The graph's receivers of the record store's and retrieval's signals (connected in
IntelligenceConfig.ready()). A failure to sync is logged, never raised: the write that sent
the signal has committed, and other receivers of the same signal (the triggers) must run."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models.signals import post_delete

from circuits.records.models import Record
from circuits.records.signals import record_changed
from circuits.tenancy.models.tenants import Tenant
from intelligence.graph.sync import forget_document, sync_document, sync_record
from intelligence.rag.models import Document
from intelligence.rag.signals import document_ingested

logger = logging.getLogger(__name__)


def on_record_changed(sender: Any, *, tenant_id: int, record_id: int, object_type: str, operation: str, new: dict | None = None, **kwargs: Any) -> None:
    try:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is not None:
            sync_record(tenant, record_id, object_type, operation, new)
    except Exception:
        logger.exception("graph sync of %s record %s (tenant %s) failed", object_type, record_id, tenant_id)


def on_document_ingested(sender: Any, *, tenant_id: int, document_id: int, **kwargs: Any) -> None:
    try:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        document = Document.objects.for_tenant(tenant).filter(pk=document_id).first() if tenant else None
        if document is not None:
            sync_document(tenant, document)
    except Exception:
        logger.exception("graph extraction from document %s (tenant %s) failed", document_id, tenant_id)


def on_document_deleted(sender: Any, *, instance: Document, **kwargs: Any) -> None:
    tenant = Tenant.objects.filter(pk=instance.tenant_id).first()
    if tenant is not None:
        forget_document(tenant, instance.pk)


def connect() -> None:
    record_changed.connect(on_record_changed, sender=Record, dispatch_uid="intelligence.graph.record_changed")
    document_ingested.connect(on_document_ingested, sender=Document, dispatch_uid="intelligence.graph.document_ingested")
    post_delete.connect(on_document_deleted, sender=Document, dispatch_uid="intelligence.graph.document_deleted")
