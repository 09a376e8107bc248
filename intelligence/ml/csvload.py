"""A labelled CSV as records of a custom object type: field types inferred from the values.

Used by `ml_eval` (and usable for imports): integers, numbers, yes/no or true/false booleans,
ISO dates, columns with few distinct values as choices, the rest as strings (long ones text).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from django.core.exceptions import ValidationError

from circuits.records.models import ObjectType, Record
from circuits.records.types import FIELD_NAME, MAX_CHOICES, MAX_FIELDS, definition_from_row

_INT = re.compile(r"^-?\d{1,15}$")
_NUM = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOOL = {"yes", "no", "true", "false"}
CHOICE_MAX = 30


def field_name(header: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", header.strip().lower()).strip("_") or "field"
    if not name[0].isalpha():
        name = "f_" + name
    name = name[:63]
    return name if FIELD_NAME.match(name) and name not in ("id", "data", "tenant", "object_type") else f"f_{name}"[:63]


def infer(values: list[str], is_target: bool) -> dict:
    present = [v for v in values if v != ""]
    distinct = set(present)
    if is_target:
        return {"type": "choice", "choices": sorted(distinct)}
    if present and all(_INT.match(v) for v in present):
        return {"type": "integer"}
    if present and all(_NUM.match(v) for v in present):
        return {"type": "number"}
    if present and {v.lower() for v in distinct} <= _BOOL:
        return {"type": "boolean"}
    if present and all(_DATE.match(v) for v in present):
        return {"type": "date"}
    if 0 < len(distinct) <= CHOICE_MAX:
        return {"type": "choice", "choices": sorted(distinct)}
    longest = max((len(v) for v in present), default=0)
    return {"type": "text"} if longest > 1000 else {"type": "string"}


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows; a table that is not UTF-8 CSV, holds NUL bytes (PostgreSQL
    cannot store them in JSON), a field over csv's limit or more columns than a type may have
    is a ValidationError naming the problem, before anything is written."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames:
                raise ValidationError({"csv": f"{path} has no header row"})
            headers = list(reader.fieldnames)
            if len(headers) > MAX_FIELDS:
                raise ValidationError({"csv": f"{path} has {len(headers)} columns; a record type holds at most {MAX_FIELDS}"})
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise ValidationError({"csv": f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason})"}) from None
    except csv.Error as exc:
        raise ValidationError({"csv": f"{path} is not a readable CSV table: {exc}"}) from None
    if any("\x00" in h for h in headers) or any("\x00" in (v or "") for row in rows for v in row.values() if isinstance(v, str)):
        raise ValidationError({"csv": f"{path} holds NUL bytes; it is not a text table"})
    if not rows:
        raise ValidationError({"csv": f"{path} has a header but no rows"})
    return headers, rows


def load_records(tenant, slug: str, headers: list[str], rows: list[dict[str, str]], target: str) -> tuple[str, int, int]:
    """Create the type and its records (bulk); returns (label field, loaded, skipped)."""
    if target not in headers:
        raise ValidationError({"target": f"{target!r} is not a column; columns: {', '.join(headers)}"})
    targets = {r.get(target) for r in rows if r.get(target)}
    if len(targets) > MAX_CHOICES:
        raise ValidationError({"target": f"{target!r} has {len(targets)} distinct values; a label column has at most {MAX_CHOICES}"})
    names = {h: field_name(h) for h in headers}
    if len(set(names.values())) != len(names):
        raise ValidationError({"csv": "two columns give the same field name once lower-cased"})
    fields = [{"name": names[h], **infer([r.get(h) or "" for r in rows], h == target)} for h in headers]
    row = ObjectType.objects.create(tenant=tenant, slug=slug, label=slug, fields=fields)
    type_def = definition_from_row(row)
    records, skipped = [], 0
    for raw in rows:
        data = {names[h]: (raw.get(h) or "") for h in headers}
        try:
            records.append(Record(tenant=tenant, object_type=slug, data=type_def.clean(data)))
        except ValidationError:
            skipped += 1
    Record.objects.bulk_create(records, batch_size=2000)
    return names[target], len(records), skipped
