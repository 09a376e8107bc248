"""Config forms rendered from an action's (or trigger type's) JSON Schema, and parsed back.

The server is the only place that turns a schema into form fields and form fields back into
a config, so the builder's JavaScript never has to understand JSON Schema. Field names are
the config path joined with dots under a prefix (`c.url`, `c.auth.user`), so nested objects
with declared properties become nested fieldsets; name → value objects (headers, query,
variables, fields) are rows of a key/value editor (`c.headers.__k` / `c.headers.__v`, or as
JSON when asked for, `c.headers.__mode` saying which); lists of rules (an if's `rules`, a
switch's `cases`, Get Records' `filters`) are rows of columns — an expression, an operator select, another expression
(`c.rules.__r.left`, `c.rules.__r.op`, …; `c.rules.__mode` = rows), validated row by row so an
error names its row; other free-shape objects and arrays of objects are edited as JSON. Every string-ish field accepts a template (`{{ trigger.email }}`):
numbers and lists hold them as text until the engine renders them at run time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema.validators import Draft202012Validator

from circuits.automation.engine.expressions import is_template
from circuits.core import strict_json
from circuits.core.numbers import finite_number

# Fields holding the *name* of a tenant credential, and which kinds fit: (owner, field) → kinds.
# Actions name credentials by plain strings, so the builder knows here which kind each wants.
CREDENTIAL_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("notify.slack", "credential"): ("slack_webhook",),
    ("notify.email", "credential"): ("smtp",),
    ("web.http_request", "auth"): ("http_basic", "http_bearer", "http_header"),
    ("trigger:webhook", "secret_credential"): ("webhook_secret",),
}
# Strings likely to hold more than a line get a textarea.
LONG_TEXT = {"text", "body", "message", "html", "template", "summary", "prompt", "description", "condition", "title"}
_JSON_START = re.compile(r"^\s*(\{|\[|\"|-?\d|true\b|false\b|null\b)")
# Free-shape objects edited as name → value rows (each value text or an expression).
PAIR_FIELDS = {"headers", "query", "variables", "fields"}
# Arrays of small objects edited as rows of columns (each cell an expression or a choice);
# the name a row goes by in errors ("rule 2: …").
ROW_FIELDS = {"rules": "rule", "cases": "case", "filters": "filter"}


@dataclass
class Column:
    key: str
    label: str
    kind: str  # "select" (an enum) or "text" (a value or an expression)
    options: list[tuple[str, str]] = field(default_factory=list)
    required: bool = False


@dataclass
class Field:
    name: str  # the form field name: prefix + dotted path
    key: str  # the property name
    label: str
    help: str
    kind: str  # text, textarea, number, checkbox, select, checkboxes, lines, json, any, group
    required: bool = False
    value: str = ""
    checked: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    selected: set[str] = field(default_factory=set)
    children: list[Field] = field(default_factory=list)
    placeholder: str = ""
    templated: bool = False  # accepts {{ … }} (shows the expression help)
    credential: bool = False
    errors: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)  # kind "pairs": the rows
    pairs_json: bool = False  # a key/value (or rows) field shown as JSON: it can go back to rows
    columns: list[Column] = field(default_factory=list)  # kind "rows": the columns of each row
    rows: list[list[str]] = field(default_factory=list)  # kind "rows": each row's cells as typed
    row_noun: str = "row"

    @property
    def row_cells(self) -> list[list[tuple[Column, str]]]:
        """Each row as (column, cell text) pairs, for the template."""
        return [list(zip(self.columns, row, strict=True)) for row in self.rows]

    @property
    def blank_cells(self) -> list[tuple[Column, str]]:
        return [(c, "") for c in self.columns]

    @property
    def dom_id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)

    @property
    def error_id(self) -> str:
        return "fe-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)


def _types(schema: Mapping) -> list[str]:
    t = schema.get("type")
    if t is None:
        return []
    return [t] if isinstance(t, str) else list(t)


def _enum_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2 if isinstance(value, dict | list) else None, ensure_ascii=False)


def kind_of(schema: Mapping) -> str:
    """How a property is edited, from its schema."""
    types = [t for t in _types(schema) if t != "null"]
    if "enum" in schema:
        return "select"
    if not types:
        return "any"
    if len(types) > 1:
        # e.g. ["string", "array"] (one address or a list) or ["integer", "string"] (an id
        # or a template): a text input; anything structured goes through JSON.
        if set(types) <= {"string", "integer", "number"}:
            return "number" if "string" not in types else "text"
        return "any"
    t = types[0]
    if t == "boolean":
        return "checkbox"
    if t in ("number", "integer"):
        return "number"
    if t == "object":
        return "group" if schema.get("properties") else "json"
    if t == "array":
        items = schema.get("items") or {}
        if "enum" in items:
            return "checkboxes"
        item_types = [x for x in _types(items) if x != "null"]
        if item_types and set(item_types) <= {"string", "number", "integer"}:
            return "lines"
        return "json"
    return "text"


def build_fields(
    schema: Mapping,
    config: Any,
    *,
    owner: str,
    prefix: str = "c",
    credentials: Callable[[tuple[str, ...] | None], list[str]] | None = None,
    errors: Mapping[str, list[str]] | None = None,
    as_json: frozenset[str] | set[str] = frozenset(),
) -> list[Field]:
    """The fields of an object schema, filled from `config` (values that do not fit show as text).

    `as_json`: names of key/value fields to show as one JSON text instead of rows."""
    config = config if isinstance(config, dict) else {}
    required = set(schema.get("required", []))
    errors = errors or {}
    fields = []
    for key, prop in (schema.get("properties") or {}).items():
        name = f"{prefix}.{key}"
        kind = kind_of(prop)
        value = config.get(key)
        f = Field(
            name=name,
            key=key,
            label=prop.get("title") or key.replace("_", " ").capitalize(),
            help=prop.get("description", ""),
            kind=kind,
            required=key in required,
            errors=list(errors.get(name, [])),
        )
        default = prop.get("default")
        owner_key = (owner, key)
        if kind == "json" and _is_rows(key, prop) and _fits_rows(value, prop) and name not in as_json:
            f.kind, f.templated = "rows", True
            f.columns, f.row_noun = _columns(prop), ROW_FIELDS[key]
            f.rows = [[_cell_text(row.get(c.key), c) for c in f.columns] for row in value or []]
        elif kind == "json" and _is_pairs(key, prop) and (value is None or isinstance(value, dict)) and name not in as_json:
            f.kind = "pairs"
            f.pairs = [(k, _pair_text(v, prop)) for k, v in (value or {}).items()]
            f.templated = True
        elif owner_key in CREDENTIAL_FIELDS or (key == "credential" and kind == "text"):
            f.kind, f.credential = "select", True
            names = credentials(CREDENTIAL_FIELDS.get(owner_key)) if credentials else []
            f.options = [("", "— none —" if key not in required else "— choose a credential —")] + [(n, n) for n in names]
            if isinstance(value, str) and value and value not in names:
                f.options.append((value, f"{value} (not found)"))
            f.selected = {value} if isinstance(value, str) else set()
        elif kind == "select":
            # A value that is not one of the choices (a template, an old value) stays visible.
            f.options = [("", f"default ({_enum_text(default)})" if default is not None else "—")]
            f.options += [(_enum_text(v), _enum_text(v)) for v in prop["enum"]]
            if value is not None and _enum_text(value) not in {o[0] for o in f.options}:
                f.options.append((_enum_text(value), _enum_text(value)))
            f.selected = {_enum_text(value)} if value is not None else set()
            f.templated = True
        elif kind == "checkbox":
            f.checked = bool(default) if value is None else value is True
            if value is not None and not isinstance(value, bool):
                f.kind, f.value, f.templated = "text", _as_text(value), True
        elif kind == "checkboxes":
            f.options = [(_enum_text(v), _enum_text(v)) for v in prop["items"]["enum"]]
            f.selected = {_enum_text(v) for v in value} if isinstance(value, list) else set()
            if value is not None and not isinstance(value, list):
                f.kind, f.value, f.templated = "text", _as_text(value), True
        elif kind == "lines":
            f.value = "\n".join(_as_text(v) for v in value) if isinstance(value, list) else _as_text(value)
            f.templated = True
        elif kind == "group":
            f.children = build_fields(prop, value, owner=owner, prefix=name, credentials=credentials, errors=errors, as_json=as_json)
        else:
            f.value = _as_text(value)
            f.templated = True
            if kind in ("text", "any") and (key in LONG_TEXT or "\n" in f.value):
                f.kind = "textarea"
            if kind == "json":
                f.placeholder = "{}" if "object" in _types(prop) else "[]"
                f.pairs_json = _is_pairs(key, prop) or _is_rows(key, prop)  # shown as JSON, can go back to rows
        if default is not None and kind in ("text", "number", "any", "json", "lines") and not f.placeholder:
            f.placeholder = f"default: {_as_text(default)}"
        fields.append(f)
    return fields


def _is_pairs(key: str, prop: Mapping) -> bool:
    return key in PAIR_FIELDS and kind_of(prop) == "json" and "object" in _types(prop)


def _is_rows(key: str, prop: Mapping) -> bool:
    items = prop.get("items") or {}
    return key in ROW_FIELDS and _types(prop) == ["array"] and bool(items.get("properties"))


def _columns(prop: Mapping) -> list[Column]:
    items = prop["items"]
    required = set(items.get("required", []))
    columns = []
    for key, sub in items["properties"].items():
        column = Column(key=key, label=sub.get("title") or key.replace("_", " ").capitalize(), kind="text", required=key in required)
        if "enum" in sub:
            column.kind = "select"
            column.options = [("", "—")] + [(_enum_text(v), _enum_text(v)) for v in sub["enum"]]
        columns.append(column)
    return columns


def _fits_rows(value: Any, prop: Mapping) -> bool:
    """Rows can show the value without losing anything (else it stays JSON)."""
    if value is None:
        return True
    if not isinstance(value, list):
        return False
    known = set(prop["items"]["properties"])
    return all(isinstance(row, dict) and set(row) <= known for row in value)


def _cell_text(value: Any, column: Column) -> str:
    if value is None:
        return ""
    if column.kind == "select":
        return _enum_text(value)
    return _pair_text(value, {})


def _parse_rows(name: str, prop: Mapping, getlist: Callable[[str], list[str]], noun: str) -> tuple[list[dict], list[str]]:
    """The rows of a rows editor, each checked against the item schema; errors name their row.

    A row whose cells are all empty (the blank row at the end) is no row."""
    columns = _columns(prop)
    cells = {c.key: getlist(f"{name}.__r.{c.key}") for c in columns}
    count = max((len(v) for v in cells.values()), default=0)
    validator = Draft202012Validator(prop["items"])
    rows: list[dict] = []
    errors: list[str] = []
    for i in range(count):
        texts = {c.key: (cells[c.key][i] if i < len(cells[c.key]) else "") for c in columns}
        if not any(t.strip() for t in texts.values()):
            continue
        number = len(rows) + 1
        row: dict[str, Any] = {}
        for c in columns:
            text = texts[c.key]
            if not text.strip():
                continue
            if c.kind == "select":
                members = {_enum_text(v): v for v in prop["items"]["properties"][c.key]["enum"]}
                row[c.key] = members.get(text, text)
            else:
                row[c.key] = strict_json.loads(text.strip()) if _reads_as_json(text) else text
        for error in sorted(validator.iter_errors(row), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in error.path)
            label = next((c.label for c in columns if c.key == where), where)
            if error.validator == "required":
                missing = re.search(r"'([^']+)' is a required property", error.message)
                label = next((c.label for c in columns if missing and c.key == missing.group(1)), label)
                errors.append(f"{noun} {number}: {label.lower()} is required")
            elif error.validator == "enum":
                errors.append(f"{noun} {number}: {label.lower()} {row.get(where)!r} is not one of the choices")
            elif error.validator == "pattern":
                errors.append(f"{noun} {number}: {label.lower()} {row.get(where)!r} must be lower-case letters, digits and _ (starting with a letter)")
            else:
                errors.append(f"{noun} {number}: {label.lower()}: {error.message}")
        rows.append(row)
    return rows, errors


def _strings_only(prop: Mapping) -> bool:
    return _types(prop.get("additionalProperties") or {}) == ["string"]


def _pair_text(value: Any, prop: Mapping) -> str:
    """A row's value as typed: text as it is, other values as JSON. Text that would read back
    as JSON (\"42\", \"true\") is quoted, so the row gives back the same config."""
    if isinstance(value, str) and (_strings_only(prop) or not _reads_as_json(value)):
        return value
    return json.dumps(value, ensure_ascii=False)


def _reads_as_json(text: str) -> bool:
    if not _JSON_START.match(text):
        return False
    try:
        strict_json.loads(text.strip())
    except strict_json.JSONRefused:
        return False
    return True


def _parse_pairs(keys: list[str], values: list[str], prop: Mapping) -> tuple[dict, list[str]]:
    out: dict[str, Any] = {}
    errors = []
    for raw_key, text in zip(keys, values, strict=False):
        name = raw_key.strip()
        if not name:
            if text.strip():
                errors.append(f"a row with the value {text.strip()[:40]!r} has no name")
            continue
        if name in out:
            errors.append(f"{name!r} is given twice")
            continue
        if _strings_only(prop) or not _reads_as_json(text):
            out[name] = text
        else:
            out[name] = strict_json.loads(text.strip())
    return out, errors


def _number(text: str, integer: bool) -> int | float:
    value = finite_number(text)  # NaN and infinity are not numbers a config can hold (ValueError)
    if integer or (float(value).is_integer() and re.fullmatch(r"-?\d+", text)):
        return int(value)
    return value


def _parse_scalar_list(text: str, item_schema: Mapping) -> list:
    item_types = _types(item_schema)
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if ("integer" in item_types or "number" in item_types) and "string" not in item_types and not is_template(line):
            items.append(_number(line, "number" not in item_types))
        else:
            items.append(line)
    return items


def parse_fields(schema: Mapping, data: Mapping, *, owner: str, prefix: str = "c") -> tuple[dict, dict[str, list[str]]]:
    """A config from submitted form data (a QueryDict or a dict of lists). Returns (config, errors by field name)."""
    config: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    required = set(schema.get("required", []))

    def get(name: str) -> str:
        value = data.getlist(name) if hasattr(data, "getlist") else data.get(name, [])
        if isinstance(value, list):
            return value[-1] if value else ""
        return value if value is not None else ""

    def getlist(name: str) -> list[str]:
        value = data.getlist(name) if hasattr(data, "getlist") else data.get(name, [])
        return list(value) if isinstance(value, list | tuple) else [value]

    for key, prop in (schema.get("properties") or {}).items():
        name = f"{prefix}.{key}"
        kind = kind_of(prop)
        default = prop.get("default")
        is_credential = (owner, key) in CREDENTIAL_FIELDS or (key == "credential" and kind == "text")
        if kind == "group":
            if f"{name}.__present" not in data and not any(str(k).startswith(name + ".") for k in data):
                continue
            sub, sub_errors = parse_fields(prop, data, owner=owner, prefix=name)
            errors.update(sub_errors)
            if sub or key in required:
                config[key] = sub
            continue
        if kind == "checkbox" and not is_credential:
            if f"{name}.__present" not in data and name not in data:
                continue  # the field was not on the form (e.g. a read-only render)
            text = get(name)
            if text not in ("", "on", "true", "false"):
                # The field was holding a template (rendered as text).
                config[key] = text
                continue
            checked = text in ("on", "true")
            if checked != bool(default) or (default is None and checked):
                config[key] = checked
            continue
        if kind == "checkboxes":
            if f"{name}.__present" not in data and name not in data:
                continue
            chosen = [v for v in getlist(name) if v]
            if len(chosen) == 1 and is_template(chosen[0]):
                config[key] = chosen[0]
                continue
            allowed = {_enum_text(v): v for v in prop["items"]["enum"]}
            values = [allowed[v] for v in allowed if v in chosen]
            unknown = [v for v in chosen if v not in allowed]
            if unknown:
                errors.setdefault(name, []).append(f"unknown choice {unknown[0]!r}")
            if values:
                config[key] = values
            continue
        if kind == "json" and get(f"{name}.__mode") == "rows" and _is_rows(key, prop):
            rows, row_errors = _parse_rows(name, prop, getlist, ROW_FIELDS[key])
            if row_errors:
                errors.setdefault(name, []).extend(row_errors)
            if rows or key in required:
                config[key] = rows
            continue
        if kind == "json" and get(f"{name}.__mode") == "pairs":
            pairs, pair_errors = _parse_pairs(getlist(f"{name}.__k"), getlist(f"{name}.__v"), prop)
            for message in pair_errors:
                errors.setdefault(name, []).append(message)
            if pairs or key in required:
                config[key] = pairs
            continue
        text = get(name)
        if text.strip() == "":
            continue
        if is_credential:
            config[key] = text.strip()
        elif kind == "select":
            # Back to the enum member (enums may hold numbers); other text is a template.
            members = {_enum_text(v): v for v in prop["enum"]}
            config[key] = members.get(text, text)
        elif kind == "number":
            stripped = text.strip()
            if is_template(stripped):
                config[key] = stripped
            else:
                try:
                    config[key] = _number(stripped, "number" not in _types(prop) and "integer" in _types(prop))
                except ValueError:
                    if "string" in _types(prop):
                        config[key] = stripped
                    else:
                        errors.setdefault(name, []).append(f"{stripped!r} is not a number")
        elif kind == "lines":
            stripped = text.strip()
            if is_template(stripped) and "\n" not in stripped:
                config[key] = stripped  # one expression that yields the whole list
            else:
                try:
                    config[key] = _parse_scalar_list(text, prop.get("items") or {})
                except ValueError as exc:
                    errors.setdefault(name, []).append(f"every line must be a number ({exc})")
        elif kind == "json":
            stripped = text.strip()
            if is_template(stripped) and not _JSON_START.match(stripped):
                config[key] = stripped
                continue
            try:
                config[key] = strict_json.loads(stripped)
            except strict_json.JSONRefused as exc:
                errors.setdefault(name, []).append(f"not valid JSON: {exc.detail}")
        elif kind == "any":
            # Free values: JSON when it reads as JSON (numbers, lists, objects — their strings
            # may hold templates), else text (a template, or plain words).
            stripped = text.strip()
            if _JSON_START.match(stripped):
                try:
                    config[key] = strict_json.loads(stripped)
                    continue
                except strict_json.JSONRefused:
                    pass
            config[key] = text
        else:
            config[key] = text
    return config, errors


def field_for_error(message: str, prefix: str = "c") -> tuple[str | None, str]:
    """Map a validation message ("url: is required", "config.to: …") to (field name, text)."""
    where, sep, text = message.partition(": ")
    if not sep:
        return None, message
    where = where.strip()
    if where.startswith("config"):
        where = where[len("config") :].lstrip(".")
    required = re.match(r"'([^']+)' is a required property", text)
    if required and where in ("", "config"):
        return f"{prefix}.{required.group(1)}", "is required"
    if not where:
        return None, text
    # Array indexes (feeds.0, to[1]) belong to the array's field.
    parts = [p for p in re.split(r"[.\[\]]+", where) if p and not p.isdigit()]
    if not parts:
        return None, text
    return f"{prefix}." + ".".join(parts), text


def attach_errors(messages: list[str], fields: list[Field], prefix: str = "c") -> list[str]:
    """Put each message on its field (or the closest enclosing one); return the rest."""
    by_name: dict[str, Field] = {}

    def index(items: list[Field]) -> None:
        for f in items:
            by_name[f.name] = f
            index(f.children)

    index(fields)
    rest = []
    for message in messages:
        name, text = field_for_error(message, prefix)
        while name and name not in by_name and "." in name[len(prefix) + 1 :]:
            name = name.rsplit(".", 1)[0]
        if name in by_name:
            if text not in by_name[name].errors:
                by_name[name].errors.append(text)
        else:
            rest.append(message)
    return rest


def all_fields(fields: list[Field]) -> list[Field]:
    out = []
    for f in fields:
        out.append(f)
        out += all_fields(f.children)
    return out
