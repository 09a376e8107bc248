"""Signals the record store sends, so record hooks (triggers) are receivers above it rather
than code the store calls: the store never imports the trigger machinery.

`record_before_save` is sent inside the write's transaction, before validation and save;
receivers may change `fields` (a dict) in place and may raise ValidationError to refuse the
save — send() is deliberately not robust, so a refusal reaches the caller and nothing is saved.
Arguments: tenant, object_type, operation ("created" / "updated"), fields, old (dict or None),
record_id (None on create).

`record_changed` is sent after the write committed. Arguments: tenant_id, record_id,
object_type, operation ("created" / "updated" / "deleted"), old, new (dicts or None),
execution_id (the execution whose step wrote, if any).
"""

from __future__ import annotations

from django.dispatch import Signal

record_before_save = Signal()
record_changed = Signal()
