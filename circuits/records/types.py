"""Object types: what fields a record of each type has, and how its data is validated.

Built-in types (lead, account, contact, opportunity, task) are defined here in code; a
tenant's custom types are `ObjectType` rows whose `fields` JSON uses the same format:

    {"name": "plan", "type": "choice", "required": true, "choices": ["free", "pro"],
     "default": "free", "label": "Plan", "description": "…"}

Field types: string, text, integer, number, boolean, date, datetime, email, url, choice.
`min`/`max` bound the value of integer/number fields and the length of string/text ones;
`ref` on an integer field makes it a record id of that type ("*" = any type) in the same
tenant. Every record is validated with a JSON Schema built from its type and a format
checker whose email/date/date-time/url checks are our own, so they are always enforced
(jsonschema's own need optional packages and silently pass without them).
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from jsonschema import FormatChecker
from jsonschema.validators import Draft202012Validator

from circuits.records.models import ObjectType

if TYPE_CHECKING:
    from circuits.tenancy.models.tenants import Tenant

logger = logging.getLogger(__name__)

FIELD_TYPES = ("string", "text", "integer", "number", "boolean", "date", "datetime", "email", "url", "choice")
# Keys every record carries next to its fields (see `record_to_dict`); a field may not use them.
RESERVED_NAMES = frozenset({"id", "object_type", "created_at", "updated_at", "created_by", "updated_by", "tenant", "data"})
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TYPE_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_FIELDS = 200
MAX_CHOICES = 500
# Length caps so one record cannot grow without bound; a field's `max` may only lower them.
STRING_MAX = 1000
TEXT_MAX = 100_000
_STRING_TYPES = ("string", "text", "email", "url", "choice", "date", "datetime")
_LENGTH_BOUNDED = ("string", "text")
_VALUE_BOUNDED = ("integer", "number")


# -- formats -------------------------------------------------------------------------------

FORMATS = FormatChecker(formats=())  # start empty: only the checks below, all self-contained
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$", re.I)
_URL = URLValidator(schemes=["http", "https"])


@FORMATS.checks("email", raises=ValidationError)
def _is_email(value: object) -> bool:
    if isinstance(value, str):
        validate_email(value)
    return True


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if isinstance(value, str):
        # fromisoformat alone also takes "20240105" and week dates; insist on YYYY-MM-DD.
        return bool(_DATE.match(value)) and date.fromisoformat(value) is not None
    return True


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if isinstance(value, str):
        return bool(_DATETIME.match(value)) and datetime.fromisoformat(value) is not None
    return True


@FORMATS.checks("uri", raises=ValidationError)
def _is_url(value: object) -> bool:
    if isinstance(value, str):
        _URL(value)
    return True


def normalize_datetime(value: str) -> str:
    """An ISO 8601 date-time as UTC ("…Z"), so stored values sort and compare as text."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    text = parsed.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


# -- definitions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str = ""
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    ref: str | None = None  # integer fields: a record id of this type ("*": any type)
    description: str = ""

    @classmethod
    def from_dict(cls, raw: dict) -> FieldDef:
        return cls(
            name=raw["name"],
            type=raw["type"],
            label=raw.get("label") or raw["name"].replace("_", " ").capitalize(),
            required=bool(raw.get("required", False)),
            default=raw.get("default"),
            choices=tuple(raw.get("choices") or ()),
            min=raw.get("min"),
            max=raw.get("max"),
            ref=raw.get("ref"),
            description=raw.get("description", ""),
        )

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "label": self.label, "required": self.required}
        for key in ("default", "min", "max", "ref"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.choices:
            out["choices"] = list(self.choices)
        if self.description:
            out["description"] = self.description
        return out

    def json_schema(self) -> dict:
        schema: dict[str, Any] = {"title": self.label}
        if self.description:
            schema["description"] = self.description
        kind = self.type
        if kind in ("string", "text"):
            cap = STRING_MAX if kind == "string" else TEXT_MAX
            schema.update(type="string", maxLength=int(min(cap, self.max)) if self.max is not None else cap)
            if self.min is not None:
                schema["minLength"] = int(self.min)
        elif kind == "email":
            schema.update(type="string", format="email", maxLength=254)
        elif kind == "url":
            schema.update(type="string", format="uri", maxLength=2000)
        elif kind == "date":
            schema.update(type="string", format="date")
        elif kind == "datetime":
            schema.update(type="string", format="date-time")
        elif kind == "choice":
            schema.update(type="string", enum=list(self.choices))
        elif kind == "boolean":
            schema["type"] = "boolean"
        else:  # integer / number
            schema["type"] = kind
            if self.min is not None:
                schema["minimum"] = self.min
            if self.max is not None:
                schema["maximum"] = self.max
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def normalize(self, value: Any) -> Any:
        """Gentle coercion of what templates and webhooks produce ("42" for a number, "" for nothing).

        Values that cannot be coerced are returned unchanged so validation names the problem.
        None means "no value": the field is left out of the record.
        """
        if value is None or (isinstance(value, str) and value == ""):
            return None
        kind = self.type
        if kind in ("integer", "number") and isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                return value
            if not number.is_finite():
                return value
            if kind == "integer":
                return int(number) if number == number.to_integral_value() else value
            return int(number) if number == number.to_integral_value() and "." not in value and "e" not in value.lower() else float(number)
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)
        if kind == "boolean" and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "yes", "1", "on"):
                return True
            if lowered in ("false", "no", "0", "off"):
                return False
            return value
        if kind in ("string", "text") and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if kind in ("email", "url", "date") and isinstance(value, str):
            return value.strip()
        if kind == "datetime" and isinstance(value, str):
            text = value.strip()
            if _DATETIME.match(text):
                try:
                    return normalize_datetime(text)
                except ValueError:
                    return text
            return text
        return value


@dataclass(frozen=True)
class ObjectTypeDef:
    slug: str
    label: str
    fields: tuple[FieldDef, ...]
    builtin: bool = False
    description: str = ""
    _by_name: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> FieldDef | None:
        return self._by_name.get(name)

    @cached_property
    def json_schema(self) -> dict:
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.label,
            "type": "object",
            "properties": {f.name: f.json_schema() for f in self.fields},
            "required": [f.name for f in self.fields if f.required],
            "additionalProperties": False,
        }

    @cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.json_schema, format_checker=FORMATS)

    def describe(self) -> dict:
        return {
            "slug": self.slug,
            "label": self.label,
            "builtin": self.builtin,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
            "schema": self.json_schema,
        }

    # -- data --------------------------------------------------------------------------------

    def check_unknown(self, data: dict) -> None:
        if not isinstance(data, dict):
            raise ValidationError({"fields": f"The fields of a {self.slug} must be an object, not {type(data).__name__}."})
        unknown = sorted(str(k) for k in data if k not in self._by_name)
        if unknown:
            raise ValidationError({name: f"Unknown field {name!r} on {self.slug}; its fields are: {', '.join(self.field_names)}." for name in unknown})

    def normalize(self, data: dict) -> dict:
        """Coerced values, blanks dropped (a blank clears the field), unknown fields refused."""
        self.check_unknown(data)
        out = {}
        for name, value in data.items():
            value = self._by_name[name].normalize(value)
            if value is not None:
                out[name] = value
        return out

    def apply_defaults(self, data: dict) -> dict:
        out = dict(data)
        for f in self.fields:
            if f.default is not None and out.get(f.name) is None:
                out[f.name] = f.normalize(f.default)
        return out

    def validate(self, data: dict) -> None:
        """Raise ValidationError({field: [message, …]}) naming every bad field."""
        self.check_unknown(data)
        problems: dict[str, list[str]] = {}
        for error in self.validator.iter_errors(data):
            for name, message in _explain(error, data):
                problems.setdefault(name, []).append(message)
        for f in self.fields:
            value = data.get(f.name)
            # JSON has no NaN/Infinity and jsonschema counts them as numbers; refuse them here.
            if f.type in _VALUE_BOUNDED and isinstance(value, float) and not math.isfinite(value):
                problems.setdefault(f.name, []).append("must be a finite number")
        if problems:
            raise ValidationError({name: sorted(set(messages)) for name, messages in sorted(problems.items())})

    def clean(self, data: dict) -> dict:
        """normalize → defaults → validate; the data as it will be stored."""
        cleaned = self.apply_defaults(self.normalize(data))
        self.validate(cleaned)
        return cleaned


_TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false", "object": "an object"}
_FORMAT_WORDS = {
    "email": "a valid e-mail address",
    "date": "a date (YYYY-MM-DD)",
    "date-time": "a date-time (ISO 8601, e.g. 2024-05-01T09:30:00Z)",
    "uri": "a valid http(s) URL",
}


def _explain(error, instance: dict) -> list[tuple[str, str]]:
    """(field, readable message) pairs for one jsonschema error."""
    if error.validator == "required":
        return [(name, "is required") for name in error.validator_value if name not in instance]
    if error.validator == "additionalProperties":
        return [(str(name), "is not a field of this type") for name in instance if name not in error.schema.get("properties", {})]
    name = str(error.path[0]) if error.path else "fields"
    value = error.instance
    shown = repr(value) if not isinstance(value, str) or len(value) <= 60 else repr(value[:57] + "...")
    match error.validator:
        case "type":
            expected = error.validator_value
            return [(name, f"{shown} is not {_TYPE_WORDS.get(expected, expected)}")]
        case "enum":
            return [(name, f"{shown} is not one of: {', '.join(map(str, error.validator_value))}")]
        case "format":
            return [(name, f"{shown} is not {_FORMAT_WORDS.get(error.validator_value, error.validator_value)}")]
        case "minimum":
            return [(name, f"{shown} is below the minimum {error.validator_value}")]
        case "maximum":
            return [(name, f"{shown} is above the maximum {error.validator_value}")]
        case "minLength":
            return [(name, f"must be at least {error.validator_value} characters")]
        case "maxLength":
            return [(name, f"must be at most {error.validator_value} characters")]
    return [(name, error.message)]


def format_validation_error(exc: ValidationError) -> str:
    """One line naming every field: "email: 'x' is not a valid e-mail address; score: …"."""
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{name}: {', '.join(messages)}" if name != "__all__" else ", ".join(messages) for name, messages in exc.message_dict.items())
    return "; ".join(exc.messages)


# -- checking a definition ---------------------------------------------------------------------

_DEFINITION_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_FIELDS,
    "items": {
        "type": "object",
        "required": ["name", "type"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": FIELD_NAME.pattern},
            "type": {"enum": list(FIELD_TYPES)},
            "label": {"type": "string", "maxLength": 100},
            "description": {"type": "string", "maxLength": 1000},
            "required": {"type": "boolean"},
            "default": {},
            "choices": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_CHOICES,
                "uniqueItems": True,
                "items": {"type": "string", "minLength": 1, "maxLength": 255},
            },
            "min": {"type": "number"},
            "max": {"type": "number"},
            "ref": {"type": "string", "pattern": r"^(\*|[a-z][a-z0-9_]{0,49})$"},
        },
    },
}
_DEFINITION_VALIDATOR = Draft202012Validator(_DEFINITION_SCHEMA)


def validate_object_type_definition(fields: Any) -> None:
    """Raise ValidationError({"fields": [...]}) when a type's field list is not usable."""
    problems: list[str] = []
    for error in sorted(_DEFINITION_VALIDATOR.iter_errors(fields), key=lambda e: list(e.path)):
        where = _where(fields, list(error.path))
        problems.append(f"{where}: {error.message}")
    if problems:
        raise ValidationError({"fields": problems})
    seen: set[str] = set()
    for index, raw in enumerate(fields):
        where = _where(fields, [index])
        before = len(problems)
        name, kind = raw["name"], raw["type"]
        if name in RESERVED_NAMES:
            problems.append(f"{where}: {name!r} is reserved ({', '.join(sorted(RESERVED_NAMES))})")
        if name in seen:
            problems.append(f"{where}: the name {name!r} is used twice")
        seen.add(name)
        if kind == "choice" and not raw.get("choices"):
            problems.append(f"{where}: a choice field needs a list of choices")
        if kind != "choice" and "choices" in raw:
            problems.append(f"{where}: only choice fields have choices")
        for bound in ("min", "max"):
            if bound in raw and kind not in _VALUE_BOUNDED + _LENGTH_BOUNDED:
                problems.append(f"{where}: {bound} applies only to integer, number, string and text fields")
            elif bound in raw and kind in _LENGTH_BOUNDED and (raw[bound] < 0 or raw[bound] != int(raw[bound])):
                problems.append(f"{where}: {bound} is a length here and must be a whole number ≥ 0")
        if "min" in raw and "max" in raw and raw["min"] > raw["max"]:
            problems.append(f"{where}: min ({raw['min']}) is greater than max ({raw['max']})")
        if "ref" in raw and kind != "integer":
            problems.append(f"{where}: ref applies only to integer fields (record ids)")
        if raw.get("default") is not None and len(problems) == before:
            definition = FieldDef.from_dict(raw)
            value = definition.normalize(raw["default"])
            if value is None or any(Draft202012Validator(definition.json_schema(), format_checker=FORMATS).iter_errors(value)):
                problems.append(f"{where}: the default {raw['default']!r} is not a valid {kind} for this field")
    if problems:
        raise ValidationError({"fields": problems})


def _where(fields: Any, path: list) -> str:
    if not path:
        return "fields"
    index = path[0]
    name = fields[index].get("name") if isinstance(fields, list) and isinstance(fields[index], dict) else None
    head = f"fields[{index}]" + (f" ({name})" if isinstance(name, str) else "")
    return ".".join([head, *(str(p) for p in path[1:])])


def validate_type_slug(slug: Any) -> None:
    if not isinstance(slug, str) or not TYPE_SLUG.match(slug):
        raise ValidationError({"slug": "A type slug is lower-case letters, digits and underscores, starting with a letter (max 50)."})
    if slug in BUILTIN_TYPES:
        raise ValidationError({"slug": f"{slug!r} is a built-in type; choose another slug."})


# -- built-in types ----------------------------------------------------------------------------


def _builtin(slug: str, label: str, description: str, fields: list[dict]) -> ObjectTypeDef:
    validate_object_type_definition(fields)  # built-ins obey the same rules (checked at import)
    return ObjectTypeDef(slug=slug, label=label, description=description, builtin=True, fields=tuple(FieldDef.from_dict(f) for f in fields))


_S = "string"
BUILTIN_TYPES: dict[str, ObjectTypeDef] = {
    t.slug: t
    for t in (
        _builtin(
            "lead",
            "Lead",
            "A prospective customer who has not been qualified yet.",
            [
                {"name": "first_name", "type": _S},
                {"name": "last_name", "type": _S},
                {"name": "email", "type": "email", "required": True, "label": "E-mail"},
                {"name": "company", "type": _S},
                {"name": "title", "type": _S},
                {"name": "phone", "type": _S},
                {"name": "status", "type": "choice", "choices": ["new", "working", "qualified", "converted", "disqualified"], "default": "new"},
                {"name": "source", "type": _S},
                {"name": "score", "type": "number", "min": 0, "max": 100},
                {"name": "owner", "type": _S},
            ],
        ),
        _builtin(
            "account",
            "Account",
            "A company you do business with.",
            [
                {"name": "name", "type": _S, "required": True},
                {"name": "industry", "type": _S},
                {"name": "website", "type": "url"},
                {"name": "employees", "type": "integer", "min": 0},
                {"name": "annual_revenue", "type": "number"},
                {"name": "tier", "type": _S},
            ],
        ),
        _builtin(
            "contact",
            "Contact",
            "A person, usually at an account.",
            [
                {"name": "first_name", "type": _S},
                {"name": "last_name", "type": _S, "required": True},
                {"name": "email", "type": "email", "label": "E-mail"},
                {"name": "phone", "type": _S},
                {"name": "account_id", "type": "integer", "ref": "account", "label": "Account", "description": "The id of an account record."},
            ],
        ),
        _builtin(
            "opportunity",
            "Opportunity",
            "A potential deal with an account.",
            [
                {"name": "name", "type": _S, "required": True},
                {"name": "account_id", "type": "integer", "ref": "account", "label": "Account", "description": "The id of an account record."},
                {"name": "amount", "type": "number", "min": 0},
                {
                    "name": "stage",
                    "type": "choice",
                    "choices": ["prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"],
                    "default": "prospecting",
                },
                {"name": "close_date", "type": "date"},
                {"name": "probability", "type": "integer", "min": 0, "max": 100},
            ],
        ),
        _builtin(
            "task",
            "Task",
            "Something someone has to do, optionally about another record.",
            [
                {"name": "subject", "type": _S, "required": True},
                {"name": "status", "type": "choice", "choices": ["open", "done"], "default": "open"},
                {"name": "due_date", "type": "date"},
                {"name": "related_to", "type": "integer", "ref": "*", "description": "The id of the record this task is about."},
                {"name": "assigned_to", "type": _S},
            ],
        ),
    )
}


# -- lookup ------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _parse_custom(slug: str, label: str, fields_json: str) -> ObjectTypeDef:
    # Keyed by the definition's content, so an edited type is re-parsed and the cache is
    # never stale; the compiled validator is reused across records of the same definition.
    fields = json.loads(fields_json)
    validate_object_type_definition(fields)
    return ObjectTypeDef(slug=slug, label=label, fields=tuple(FieldDef.from_dict(f) for f in fields))


def definition_from_row(row) -> ObjectTypeDef:
    """The definition held by an `ObjectType` row (ValidationError when it is broken)."""
    try:
        return _parse_custom(row.slug, row.label or row.slug, json.dumps(row.fields, sort_keys=True))
    except ValidationError as exc:
        raise ValidationError({"object_type": f"The definition of object type {row.slug!r} is invalid: {format_validation_error(exc)}"}) from None


def get_type(tenant: Tenant, slug: str) -> ObjectTypeDef:
    """The built-in or the tenant's custom type `slug`; ValidationError naming it when unknown."""
    if isinstance(slug, str) and slug in BUILTIN_TYPES:
        return BUILTIN_TYPES[slug]
    row = ObjectType.objects.for_tenant(tenant).filter(slug=slug).first() if isinstance(slug, str) and slug else None
    if row is None:
        raise ValidationError({"object_type": f"Unknown object type {slug!r}; known types: {', '.join(t.slug for t in list_types(tenant))}."})
    return definition_from_row(row)


def list_types(tenant: Tenant) -> list[ObjectTypeDef]:
    """Built-in types first, then the tenant's custom types (broken definitions are logged and left out)."""
    types = list(BUILTIN_TYPES.values())
    for row in ObjectType.objects.for_tenant(tenant).exclude(slug__in=list(BUILTIN_TYPES)):
        try:
            types.append(definition_from_row(row))
        except ValidationError as exc:
            logger.warning("object type %s of tenant %s is invalid: %s", row.slug, row.tenant_id, exc)
    return types
