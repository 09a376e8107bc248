"""Record actions: get one, find, create, update, delete and upsert the tenant's business records.

Everything goes through `circuits.records` (the same services the UI and API use), scoped
to `ctx.tenant`: a record id of another tenant is simply "not found" and never touched.
The engine is the actor (actor=None, execution=ctx.execution), so history rows name the
execution that made each change. Every write carries the step's `ctx.idempotency_key`: a
step re-run after its worker died mid-step gets the first write's result instead of
writing again (see circuits.records.service).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError

from actions.sdk import Action, ActionError, Context, register
from circuits.records.models import Record
from circuits.records.query import MAX_LIMIT, OPS, query_records, record_to_dict
from circuits.records.service import CreateRecord, DeleteRecord, UpdateRecord, UpsertRecord, applied_write
from circuits.records.types import format_validation_error, get_type

_OBJECT_TYPE = {
    "type": "string",
    "pattern": "^[a-z][a-z0-9_]{0,49}$",
    "title": "Object type",
    "description": "lead, account, contact, opportunity, task, or one of your custom types.",
}
_RECORD_ID = {
    "type": ["integer", "string"],
    "minimum": 1,
    "pattern": "^[0-9]+$",
    "title": "Record id",
    "description": "The id of the record, e.g. {{ trigger.record.id }}.",
}
_FIELDS = {
    "type": "object",
    "title": "Fields",
    "description": 'Field → value (templates allowed, e.g. {"email": "{{ trigger.email }}"}). An empty value clears a field.',
}
_RECORD_OUT = {
    "type": "object",
    "description": "The record: id, object_type, its fields, created_at, updated_at.",
    "properties": {"id": {"type": "integer"}, "object_type": {"type": "string"}, "created_at": {"type": "string"}, "updated_at": {"type": "string"}},
    "additionalProperties": True,
}


def _invalid(object_type: str, exc: ValidationError) -> ActionError:
    return ActionError(f"Invalid {object_type}: {format_validation_error(exc)}")


def _record_id(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ActionError(f"record_id: {value!r} is not a record id")
    return value


def _check_type(ctx: Context, object_type: str) -> None:
    try:
        get_type(ctx.tenant, object_type)
    except ValidationError as exc:
        raise _invalid(object_type, exc) from None


def _given(fields: dict) -> dict:
    """The fields a write changes: a null value (what a template reading a missing key renders) leaves
    the stored one as it is — an update must not wipe data the trigger did not carry; "" clears it."""
    return {name: value for name, value in fields.items() if value is not None}


def _lookup(ctx: Context, object_type: str, record_id: int) -> Record | None:
    # Scoped to the tenant: another tenant's id finds nothing, exactly like a missing one.
    return Record.objects.for_tenant(ctx.tenant).filter(object_type=object_type, pk=record_id).first()


def _find(ctx: Context, object_type: str, record_id: Any) -> Record:
    """The tenant's record, or "not found" (also when the id belongs to another tenant)."""
    _check_type(ctx, object_type)
    record_id = _record_id(record_id)
    record = _lookup(ctx, object_type, record_id)
    if record is None:
        raise ActionError(f"{object_type} record {record_id} not found")
    return record


def _write(ctx: Context, object_type: str, service) -> Any:
    try:
        return service.execute()
    except ValidationError as exc:
        raise _invalid(object_type, exc) from None
    except Record.DoesNotExist:
        raise ActionError(f"{object_type} record not found (it may have just been deleted)") from None
    except PermissionDenied as exc:
        raise ActionError(str(exc)) from None


@register
class GetRecords(Action):
    name = "data.get_records"
    category = "data"
    label = "Get Records"
    description = "Finds records of one type by field filters, sorted and paged (like a Salesforce Get Records element)."
    side_effects = False
    schema = {
        "type": "object",
        "required": ["object_type"],
        "properties": {
            "object_type": _OBJECT_TYPE,
            "filters": {
                "type": "array",
                "maxItems": 50,
                "title": "Filters",
                "description": "All must hold. Each: a field, an operator and a value (templates allowed).",
                "items": {
                    "type": "object",
                    "required": ["field", "op"],
                    "properties": {
                        "field": {"type": "string", "minLength": 1, "title": "Field", "description": "A field of the type, or id / created_at / updated_at."},
                        "op": {"enum": list(OPS), "default": "eq", "title": "Operator", "description": "How the field is compared with the value."},
                        "value": {"title": "Value", "description": "The value to compare with (a list for 'in', true/false for 'is_null')."},
                    },
                    "additionalProperties": False,
                },
            },
            "order_by": {
                "type": "string",
                "pattern": "^-?[a-z][a-z0-9_]*$",
                "title": "Order by",
                "description": "A field to sort by; prefix with - for descending (default: -created_at, newest first).",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": 50,
                "title": "Limit",
                "description": f"At most this many records (≤ {MAX_LIMIT}).",
            },
            "offset": {"type": "integer", "minimum": 0, "default": 0, "title": "Offset", "description": "Skip this many records first (paging)."},
        },
        "additionalProperties": False,
    }
    output_schema = {
        "type": "object",
        "properties": {
            "records": {"type": "array", "items": _RECORD_OUT},
            "count": {"type": "integer", "description": "How many records were returned."},
            "total": {"type": "integer", "description": "How many records match the filters (ignoring limit and offset)."},
        },
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        errors = []
        for i, spec in enumerate(config.get("filters") or []):
            if not isinstance(spec, dict):
                continue
            value, op = spec.get("value"), spec.get("op", "eq")
            templated = isinstance(value, str) and "{{" in value
            if op == "in" and not templated and not isinstance(value, list):
                errors.append(f"filters.{i}.value: 'in' needs a list of values")
            if op == "is_null" and not templated and value is not None and not isinstance(value, bool):
                errors.append(f"filters.{i}.value: 'is_null' takes true or false")
            if op != "is_null" and "value" not in spec:
                errors.append(f"filters.{i}.value: '{op}' needs a value (to find records without the field, use 'is_null')")
        return errors

    def run(self, ctx: Context, config: dict) -> Any:
        object_type = config["object_type"]
        for i, spec in enumerate(config.get("filters") or []):
            # A template reading a missing key renders to null, and "field == null" would match every record
            # without the field: a lookup that found nothing must fail, not widen to those records.
            if isinstance(spec, dict) and spec.get("op", "eq") in ("eq", "ne") and spec.get("value") is None:
                raise ActionError(
                    f"filters.{i}.value is empty (null), maybe from a template that found nothing; "
                    f"to find records without {spec.get('field')!r}, use the op 'is_null'"
                )
        try:
            result = query_records(
                ctx.tenant, object_type, config.get("filters") or [], config.get("order_by"), config.get("limit", 50), config.get("offset", 0)
            )
        except ValidationError as exc:
            raise ActionError(f"Cannot query {object_type}: {format_validation_error(exc)}") from None
        records = [record_to_dict(r) for r in result.records]
        return {"records": records, "count": len(records), "total": result.total}


@register
class GetRecord(Action):
    name = "data.get_record"
    category = "data"
    label = "Get Record"
    description = "Reads one record by its id, as it is now (a trigger's copy may be older); fails when there is none."
    side_effects = False
    idempotent = True
    schema = {
        "type": "object",
        "required": ["object_type", "record_id"],
        "properties": {"object_type": _OBJECT_TYPE, "record_id": _RECORD_ID},
        "additionalProperties": False,
    }
    output_schema = _RECORD_OUT

    def run(self, ctx: Context, config: dict) -> Any:
        return record_to_dict(_find(ctx, config["object_type"], config["record_id"]))


@register
class CreateRecordAction(Action):
    name = "data.create_record"
    category = "data"
    label = "Create Record"
    description = "Creates a record of a type with the given fields (validated; defaults applied; history kept)."
    schema = {
        "type": "object",
        "required": ["object_type", "fields"],
        "properties": {"object_type": _OBJECT_TYPE, "fields": _FIELDS},
        "additionalProperties": False,
    }
    output_schema = _RECORD_OUT

    def run(self, ctx: Context, config: dict) -> Any:
        object_type = config["object_type"]
        record = _write(
            ctx,
            object_type,
            CreateRecord(ctx.tenant, None, object_type, config["fields"], execution=ctx.execution, idempotency_key=ctx.idempotency_key),
        )
        ctx.log(f"created {object_type} {record.pk}")
        return record_to_dict(record)


@register
class UpdateRecordAction(Action):
    name = "data.update_record"
    category = "data"
    label = "Update Record"
    description = "Changes some fields of one record; the others keep their values. An empty value clears a field; a null one (a missing key) leaves it."
    schema = {
        "type": "object",
        "required": ["object_type", "record_id", "fields"],
        "properties": {"object_type": _OBJECT_TYPE, "record_id": _RECORD_ID, "fields": {**_FIELDS, "minProperties": 1}},
        "additionalProperties": False,
    }
    output_schema = _RECORD_OUT

    def run(self, ctx: Context, config: dict) -> Any:
        object_type = config["object_type"]
        record = _find(ctx, object_type, config["record_id"])
        record = _write(
            ctx,
            object_type,
            UpdateRecord(ctx.tenant, None, record, _given(config["fields"]), execution=ctx.execution, idempotency_key=ctx.idempotency_key),
        )
        return record_to_dict(record)


@register
class DeleteRecordAction(Action):
    name = "data.delete_record"
    category = "data"
    label = "Delete Record"
    description = "Deletes one record."
    schema = {
        "type": "object",
        "required": ["object_type", "record_id"],
        "properties": {
            "object_type": _OBJECT_TYPE,
            "record_id": _RECORD_ID,
            "if_missing": {
                "enum": ["error", "ignore"],
                "default": "error",
                "title": "If the record does not exist",
                "description": "'ignore' succeeds with deleted: false (useful when a retry may find it already gone).",
            },
        },
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "properties": {"deleted": {"type": "boolean"}, "id": {"type": "integer"}}}

    def run(self, ctx: Context, config: dict) -> Any:
        object_type = config["object_type"]
        _check_type(ctx, object_type)
        record_id = _record_id(config["record_id"])
        record = _lookup(ctx, object_type, record_id)
        if record is None and applied_write(ctx.tenant, ctx.idempotency_key) is not None:
            return {"deleted": True, "id": record_id}  # this step already deleted it, before its worker died
        if record is None:
            if config.get("if_missing") == "ignore":
                return {"deleted": False, "id": record_id}
            raise ActionError(f"{object_type} record {record_id} not found")
        _write(ctx, object_type, DeleteRecord(ctx.tenant, None, record, execution=ctx.execution, idempotency_key=ctx.idempotency_key))
        ctx.log(f"deleted {object_type} {record_id}")
        return {"deleted": True, "id": record_id}


@register
class UpsertRecordAction(Action):
    name = "data.upsert_record"
    category = "data"
    label = "Upsert Record"
    description = "Updates the record whose match fields equal the given values (e.g. the lead with this e-mail), or creates it."
    schema = {
        "type": "object",
        "required": ["object_type", "match_on", "fields"],
        "properties": {
            "object_type": _OBJECT_TYPE,
            "match_on": {
                "type": "array",
                "minItems": 1,
                "maxItems": 5,
                "uniqueItems": True,
                "items": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "title": "Match on",
                "description": 'Fields that identify the record, e.g. ["email"]; each must have a value in Fields.',
            },
            "fields": {**_FIELDS, "minProperties": 1},
        },
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "properties": {"record": _RECORD_OUT, "created": {"type": "boolean"}}}

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        fields = config.get("fields")
        if not isinstance(fields, dict):
            return []
        return [f"match_on: {name!r} must also be given in fields" for name in config.get("match_on") or [] if isinstance(name, str) and name not in fields]

    def run(self, ctx: Context, config: dict) -> Any:
        object_type = config["object_type"]
        service = UpsertRecord(
            ctx.tenant, None, object_type, config["match_on"], _given(config["fields"]), execution=ctx.execution, idempotency_key=ctx.idempotency_key
        )
        record, created = _write(ctx, object_type, service)
        ctx.log(f"{'created' if created else 'updated'} {object_type} {record.pk}")
        return {"record": record_to_dict(record), "created": created}
