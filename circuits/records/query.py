"""Reading records: filters, ordering and paging that run in the database.

Filters are `{field, op, value}` with ops eq, ne, gt, gte, lt, lte, contains, icontains,
in, is_null, startswith. Data fields are reached with explicit `KeyTransform`s on the JSON
column (never `data__<name>` strings, so a field called "contains" or "in" is still just a
key), which Django compiles to `data -> 'f'` on PostgreSQL and `JSON_EXTRACT` on SQLite —
numbers compare as numbers on both. `contains`/`startswith` use STRPOS/INSTR, which are
case-sensitive on both (SQLite's LIKE is not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import StrIndex
from django.utils import timezone

from circuits.records.models import Record
from circuits.records.types import _DATE, _DATETIME, _STRING_TYPES, FieldDef, ObjectTypeDef, get_type, normalize_datetime

if TYPE_CHECKING:
    from circuits.tenancy.models.tenants import Tenant

OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "icontains", "in", "is_null", "startswith")
TEXT_OPS = ("contains", "icontains", "startswith")
RANGE_OPS = ("gt", "gte", "lt", "lte")
COLUMNS = {"id": "pk", "created_at": "created_at", "updated_at": "updated_at"}
MAX_LIMIT = 1000
MAX_FILTERS = 50
MAX_IN_VALUES = 1000


@dataclass
class QueryResult:
    records: list[Record]
    total: int  # how many match the filters, ignoring limit/offset


def record_to_dict(record: Record) -> dict:
    """The shape actions and the API expose: {id, object_type, …fields, created_at, updated_at}."""
    return {
        "id": record.pk,
        "object_type": record.object_type,
        **record.data,
        "created_at": record.created_at.isoformat() if record.created_at else None,
        "updated_at": record.updated_at.isoformat() if record.updated_at else None,
    }


def query_records(
    tenant: Tenant,
    object_type: str,
    filters: list[dict] | None = None,
    order_by: str | list[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> QueryResult:
    """One page of the tenant's records of `object_type` (two queries: count and page)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError({"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError({"offset": "must be a whole number ≥ 0"})
    qs = build_queryset(tenant, get_type(tenant, object_type), filters, order_by)
    records = list(qs[offset : offset + limit])
    # Skip the COUNT when the page already shows everything there is.
    total = offset + len(records) if (len(records) < limit and (records or offset == 0)) else qs.count()
    return QueryResult(records=records, total=total)


def build_queryset(tenant: Tenant, type_def: ObjectTypeDef, filters: list[dict] | None = None, order_by: str | list[str] | None = None) -> QuerySet:
    qs = Record.objects.for_tenant(tenant).filter(object_type=type_def.slug)
    filters = filters or []
    if not isinstance(filters, list):
        raise ValidationError({"filters": "must be a list of {field, op, value}"})
    if len(filters) > MAX_FILTERS:
        raise ValidationError({"filters": f"at most {MAX_FILTERS} filters"})
    for index, spec in enumerate(filters):
        qs = _apply_filter(qs, type_def, spec, index)
    return qs.order_by(*_ordering(type_def, order_by))


def _apply_filter(qs: QuerySet, type_def: ObjectTypeDef, spec: Any, index: int) -> QuerySet:
    if not isinstance(spec, dict) or not isinstance(spec.get("field"), str):
        raise ValidationError({"filters": f"filters[{index}] must be an object with a field, an op and a value"})
    name, op = spec["field"], spec.get("op", "eq")
    if op not in OPS:
        raise ValidationError({name: f"unknown filter op {op!r}; use one of {', '.join(OPS)}"})
    value = spec.get("value")
    if op == "is_null":
        return _is_null(qs, name, type_def, _as_bool(name, True if value is None else value))
    if name in COLUMNS:
        return _column_filter(qs, name, op, value)
    field = type_def.field(name)
    if field is None:
        raise ValidationError({name: f"Unknown field {name!r} on {type_def.slug}; its fields are: {', '.join(type_def.field_names)}."})

    alias = f"_f{index}"
    if op in TEXT_OPS:
        if field.type not in _STRING_TYPES:
            raise ValidationError({name: f"{op} works on text fields; {name} is a {field.type} field"})
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or value == "":
            raise ValidationError({name: f"{op} needs a non-empty text value"})
        text = KeyTextTransform(name, "data")
        if op == "icontains":
            return qs.alias(**{alias: text}).filter(**{f"{alias}__icontains": value})
        # STRPOS (PostgreSQL) / INSTR (SQLite): case-sensitive on both, and 1 means "starts with".
        qs = qs.alias(**{alias: StrIndex(text, Value(value))})
        return qs.filter(**{alias: 1}) if op == "startswith" else qs.filter(**{f"{alias}__gt": 0})

    qs = qs.alias(**{alias: KeyTransform(name, "data")})
    if op == "in":
        if not isinstance(value, list) or len(value) > MAX_IN_VALUES:
            raise ValidationError({name: f"in needs a list of at most {MAX_IN_VALUES} values"})
        values = [v for v in (_value(field, "in", item) for item in value) if v is not None]
        return qs.filter(**{f"{alias}__in": values}) if values else qs.none()
    value = _value(field, op, value)
    if value is None:
        if op == "eq":
            return qs.filter(**{f"{alias}__isnull": True})
        if op == "ne":
            return qs.filter(**{f"{alias}__isnull": False})
        raise ValidationError({name: f"{op} needs a value"})
    if op == "eq":
        return qs.filter(**{alias: value})
    if op == "ne":
        # A record without the field is "not equal" too (SQL's NULL would drop it).
        return qs.filter(~Q(**{alias: value}) | Q(**{f"{alias}__isnull": True}))
    if field.type == "boolean":
        raise ValidationError({name: f"{op} does not apply to true/false fields"})
    return qs.filter(**{f"{alias}__{op}": value})


def _value(field: FieldDef, op: str, raw: Any) -> Any:
    """The filter value coerced like stored data, and checked to be comparable with it."""
    value = field.normalize(raw)
    if value is None:
        return None
    kind, ok = field.type, True
    if kind in ("integer", "number"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "date":
        ok = isinstance(value, str) and bool(_DATE.match(value))
    elif kind == "datetime":
        ok = isinstance(value, str) and value.endswith("Z") and bool(_DATETIME.match(value))
    elif kind == "choice" and op in ("eq", "ne", "in"):
        ok = value in field.choices
    else:
        ok = isinstance(value, str)
    if not ok:
        expected = f"one of: {', '.join(field.choices)}" if kind == "choice" else f"a {kind} value"
        raise ValidationError({field.name: f"cannot compare with {raw!r}; expected {expected}"})
    return value


def _is_null(qs: QuerySet, name: str, type_def: ObjectTypeDef, is_null: bool) -> QuerySet:
    if name in COLUMNS:
        return qs.none() if is_null else qs  # ids and timestamps are always set
    if type_def.field(name) is None:
        raise ValidationError({name: f"Unknown field {name!r} on {type_def.slug}; its fields are: {', '.join(type_def.field_names)}."})
    # Blank values are never stored, so "null" means the key is absent.
    return qs.alias(**{f"_n_{name}": KeyTransform(name, "data")}).filter(**{f"_n_{name}__isnull": is_null})


def _column_filter(qs: QuerySet, name: str, op: str, value: Any) -> QuerySet:
    column = COLUMNS[name]
    if op in TEXT_OPS:
        raise ValidationError({name: f"{op} does not apply to {name}"})
    convert = _as_id if name == "id" else _as_datetime
    if op == "in":
        if not isinstance(value, list) or len(value) > MAX_IN_VALUES:
            raise ValidationError({name: f"in needs a list of at most {MAX_IN_VALUES} values"})
        return qs.filter(**{f"{column}__in": [convert(name, v) for v in value]})
    value = convert(name, value)
    if op == "eq":
        return qs.filter(**{column: value})
    if op == "ne":
        return qs.exclude(**{column: value})
    return qs.filter(**{f"{column}__{op}": value})


def _as_id(name: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({name: f"{value!r} is not a record id"})
    return value


def _as_datetime(name: str, value: Any) -> datetime:
    text = value.strip() if isinstance(value, str) else ""
    try:
        if _DATE.match(text):  # a bare date means its midnight in the site's time zone
            return timezone.make_aware(datetime.fromisoformat(text), timezone.get_default_timezone())
        if _DATETIME.match(text):
            return datetime.fromisoformat(normalize_datetime(text))
    except ValueError:
        pass
    raise ValidationError({name: f"{value!r} is not a date or date-time (ISO 8601)"})


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValidationError({name: "is_null needs true or false"})


def _ordering(type_def: ObjectTypeDef, order_by: str | list[str] | None) -> list:
    keys = [order_by] if isinstance(order_by, str) else list(order_by or [])
    keys = [k.strip() for k in keys if isinstance(k, str) and k.strip()]
    if not keys:
        return ["-created_at", "-pk"]
    if len(keys) > 5:
        raise ValidationError({"order_by": "order by at most 5 fields"})
    ordering: list = []
    for key in keys:
        descending, name = key.startswith("-"), key.lstrip("-")
        if name in COLUMNS:
            ordering.append(("-" if descending else "") + COLUMNS[name])
            continue
        if type_def.field(name) is None:
            raise ValidationError({name: f"Unknown field {name!r} on {type_def.slug}; its fields are: {', '.join(type_def.field_names)}."})
        expression = KeyTransform(name, "data")
        # Records without the field come last either way (the backends disagree by default).
        ordering.append(expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True))
    # A unique tie-breaker keeps pages stable when values repeat.
    ordering.append("-pk" if keys[0].startswith("-") else "pk")
    return ordering
