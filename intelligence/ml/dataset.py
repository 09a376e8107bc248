"""Training data from records: labels, outcome times, the leakage guard, and the encoder.

The encoder turns a record's fields into numeric columns by field type, and is plain JSON
(vocabularies and categories), stored on the version next to the estimator:

- integer / number → the value; boolean → 0/1; missing → NaN (imputed or native per model)
- choice (and string fields with few distinct values) → one column per value seen
- string / email / url / text → "contains <word>" columns for the words seen in ≥ MIN_DF records
  (e-mail addresses by their domain), text also by its length
- date / datetime → age in days at the record's creation (dates after it are negative)

Leakage guard: a field the record history shows being written after the record's outcome, in
more than LEAK_SHARE of labelled records, is refused (left out, with a warning on the version).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from django.utils import timezone

from circuits.records.models import Record, RecordChange
from circuits.records.types import ObjectTypeDef
from intelligence.ml.models import ModelDefinition

MIN_DF = 5  # a word must occur in this many training records to become a column
MAX_WORDS = 40  # per field
MAX_CATEGORIES = 30  # string fields with at most this many distinct values are categories
LEAK_SHARE = 0.2
_WORD = re.compile(r"[a-z0-9][a-z0-9+#.-]*[a-z0-9+#]|[a-z0-9]")
_WORD_TYPES = ("string", "text", "email", "url")


def words(kind: str, value: Any) -> set[str]:
    if not isinstance(value, str):
        return set()
    text = value.lower()
    if kind == "email":
        return {text.rsplit("@", 1)[-1]} if "@" in text else set()
    return set(_WORD.findall(text))


def label_of(definition: ModelDefinition, data: dict) -> bool | None:
    """True / False for a labelled record, None while its outcome is unknown."""
    value = data.get(definition.label_field)
    if value is None or value == "":
        return None
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if text == str(definition.positive_value):
        return True
    negatives = [str(v) for v in definition.negative_values or []]
    if negatives and text not in negatives:
        return None
    return False


def history_positives(tenant, definition: ModelDefinition, ids: list[int] | None = None) -> dict[int, datetime]:
    """Records whose history shows the label field taking the positive value, with the first time."""
    changes = RecordChange.objects.filter(tenant=tenant, object_type=definition.object_type, changes__has_key=definition.label_field)
    if ids is not None:
        changes = changes.filter(record_id__in=ids)
    first: dict[int, datetime] = {}
    for record_id, diff, at in changes.order_by("created_at", "pk").values_list("record_id", "changes", "created_at").iterator(chunk_size=2000):
        new = (diff.get(definition.label_field) or [None, None])[-1]
        value = str(new).lower() if isinstance(new, bool) else str(new)
        if record_id is not None and value == str(definition.positive_value) and record_id not in first:
            first[record_id] = at
    return first


def labelled(tenant, definition: ModelDefinition) -> list[tuple[int, dict, datetime, bool]]:
    """(id, data, created_at, label) of the definition's labelled records in `tenant`, oldest first.

    By the field's current value; with `label_from_history`, a record that ever had the positive
    value is positive even if the field moved on since (a churned account that came back)."""
    records = Record.objects.for_tenant(tenant).filter(object_type=definition.object_type).order_by("created_at", "pk")
    ever = history_positives(tenant, definition) if definition.label_from_history else {}
    out = []
    for pk, data, created_at in records.values_list("pk", "data", "created_at").iterator(chunk_size=2000):
        label = True if pk in ever else label_of(definition, data)
        if label is not None:
            out.append((pk, data, created_at, label))
    return out


def feature_fields(definition: ModelDefinition, type_def: ObjectTypeDef) -> list[str]:
    names = list(definition.features) or type_def.field_names
    return [n for n in names if n != definition.label_field and type_def.field(n) is not None]


@dataclass
class Dataset:
    ids: list[int]
    rows: list[dict]
    y: np.ndarray
    times: list[datetime]  # the outcome's time (from history) or the record's creation
    created: list[datetime]
    fields: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def positives(self) -> int:
        return int(self.y.sum())


def _outcome_times(tenant, definition: ModelDefinition, ids: list[int]) -> tuple[dict[int, datetime], dict[int, dict[str, datetime]]]:
    """When each record's label field last got its value, and when each other field was last written."""
    outcome: dict[int, datetime] = {}
    last_write: dict[int, dict[str, datetime]] = {}
    changes = RecordChange.objects.filter(tenant=tenant, record_id__in=ids).order_by("created_at", "pk").values_list("record_id", "changes", "created_at")
    for record_id, diff, at in changes.iterator(chunk_size=2000):
        for name in diff or {}:
            if name == definition.label_field:
                outcome[record_id] = at
            else:
                last_write.setdefault(record_id, {})[name] = at
    return outcome, last_write


def load(tenant, definition: ModelDefinition, type_def: ObjectTypeDef, limit: int | None = None) -> Dataset:
    """The labelled records of the definition's type in `tenant`, oldest first."""
    ids, rows, labels, created = [], [], [], []
    for pk, data, created_at, label in labelled(tenant, definition):
        ids.append(pk)
        rows.append(data)
        labels.append(label)
        created.append(created_at)
        if limit and len(ids) >= limit:
            break
    names = feature_fields(definition, type_def)
    outcome, last_write = _outcome_times(tenant, definition, ids)
    warnings = []
    if ids:
        for name in list(names):
            late = sum(1 for pk in ids if pk in outcome and last_write.get(pk, {}).get(name) and last_write[pk][name] > outcome[pk])
            if late > LEAK_SHARE * len(ids):
                names.remove(name)
                warnings.append(f"{name} left out: written after the outcome in {late} of {len(ids)} labelled records (it would leak the answer)")
    times = [outcome.get(pk, at) for pk, at in zip(ids, created, strict=True)]
    return Dataset(ids=ids, rows=rows, y=np.array(labels, dtype=int), times=times, created=created, fields=names, warnings=warnings)


# -- encoder -----------------------------------------------------------------------------------


def _age_days(value: Any, at: datetime | None) -> float:
    if not isinstance(value, str) or not value:
        return math.nan
    try:
        when = (
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            if "T" in value or " " in value
            else datetime.combine(date.fromisoformat(value), datetime.min.time())
        )
    except ValueError:
        return math.nan
    if timezone.is_naive(when):
        when = when.replace(tzinfo=timezone.get_current_timezone())
    reference = at or timezone.now()
    return (reference - when).total_seconds() / 86400.0


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes"):
            return 1.0
        if lowered in ("false", "no"):
            return 0.0
        try:
            number = float(lowered)
        except ValueError:
            return math.nan
        return number if math.isfinite(number) else math.nan
    return math.nan


def fit_encoder(type_def: ObjectTypeDef, names: list[str], rows: list[dict]) -> dict:
    """The encoder (JSON) learned from the training rows only."""
    columns: list[dict] = []
    for name in names:
        kind = type_def.field(name).type
        values = [row.get(name) for row in rows]
        if kind in ("integer", "number", "boolean"):
            columns.append({"field": name, "kind": "number", "name": name})
        elif kind in ("date", "datetime"):
            columns.append({"field": name, "kind": "age", "name": f"{name} age (days)"})
        else:
            distinct = {v for v in values if isinstance(v, str) and v}
            if kind == "choice" or (kind == "string" and len(distinct) <= MAX_CATEGORIES):
                categories = sorted(distinct | set(type_def.field(name).choices))
                for category in categories:
                    if sum(1 for v in values if v == category) >= 1:
                        columns.append({"field": name, "kind": "is", "value": category, "name": f"{name} is {category}"})
                continue
            counts: dict[str, int] = {}
            for value in values:
                for word in words(kind, value):
                    counts[word] = counts.get(word, 0) + 1
            frequent = sorted((w for w, c in counts.items() if c >= MIN_DF), key=lambda w: (-counts[w], w))[:MAX_WORDS]
            for word in sorted(frequent):
                columns.append({"field": name, "kind": "word", "value": word, "type": kind, "name": f"{name} contains {word}"})
            if kind == "text":
                columns.append({"field": name, "kind": "length", "name": f"{name} length"})
    return {"object_type": type_def.slug, "fields": names, "columns": columns}


def encode(encoder: dict, rows: list[dict], created: list[datetime | None] | None = None) -> np.ndarray:
    columns = encoder["columns"]
    matrix = np.full((len(rows), len(columns)), np.nan, dtype=float)
    created = created or [None] * len(rows)
    word_cache: dict[tuple[int, str], set[str]] = {}
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            value = row.get(column["field"])
            kind = column["kind"]
            if kind == "number":
                matrix[i, j] = _number(value)
            elif kind == "age":
                matrix[i, j] = _age_days(value, created[i])
            elif kind == "is":
                matrix[i, j] = 1.0 if value == column["value"] else 0.0
            elif kind == "word":
                key = (i, column["field"])
                if key not in word_cache:
                    word_cache[key] = words(column["type"], value)
                matrix[i, j] = 1.0 if column["value"] in word_cache[key] else 0.0
            elif kind == "length":
                matrix[i, j] = math.log1p(len(value)) if isinstance(value, str) else 0.0
    return matrix


def describe_value(column: dict, value: float) -> str:
    """A column's value in words, for explanations."""
    kind = column["kind"]
    if kind in ("is", "word"):
        return column["name"] if value >= 0.5 else f"not {column['name']}"
    if math.isnan(value):
        return f"{column['name']} missing"
    shown = f"{value:.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:.2f}"
    return f"{column['name']} = {shown}"


def prune(encoder: dict, X: np.ndarray) -> tuple[dict, np.ndarray]:
    """Drop columns that do not vary in the training rows (a field never filled in, a word in
    every record): they teach nothing, and an all-missing column breaks histogram binning."""
    keep = []
    for j in range(X.shape[1]):
        column = X[:, j]
        missing = np.isnan(column)
        distinct = len(np.unique(column[~missing])) + (1 if missing.any() else 0)
        keep.append(distinct >= 2)
    pruned = {**encoder, "columns": [c for c, k in zip(encoder["columns"], keep, strict=True) if k]}
    return pruned, X[:, np.array(keep, dtype=bool)] if X.shape[1] else X
