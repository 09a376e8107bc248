"""Records browser: object types, filtered lists, record pages with history, create/edit/delete.

Reads go through `query_records` and writes through the record services, so the browser
validates exactly like the API and the engine do (and before-save circuits run too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect

from circuits.core.numbers import finite_number
from circuits.records.models import ObjectType, Record
from circuits.records.query import OPS, query_records
from circuits.records.service import CreateRecord, DefineObjectType, DeleteRecord, UpdateRecord
from circuits.records.types import FIELD_TYPES, FieldDef, ObjectTypeDef, get_type, list_types
from circuits.tenancy.permissions import has_perm
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.form_errors import error_dict
from circuits.web.views.pages.common import PAGE_SIZE, query_without

MAX_FILTER_ROWS = 5
LIST_COLUMNS = 6  # data fields shown in the list (the record page shows them all)
OP_LABELS = {
    "eq": "equals",
    "ne": "does not equal",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "contains": "contains",
    "icontains": "contains (any case)",
    "startswith": "starts with",
    "in": "is one of (comma-separated)",
    "is_null": "is empty",
}
INPUT_TYPES = {"integer": "number", "number": "number", "date": "date", "datetime": "datetime-local", "email": "email", "url": "url"}


def type_or_404(tenant, slug: str) -> ObjectTypeDef:
    try:
        return get_type(tenant, slug)
    except ValidationError:
        raise Http404("No such object type.") from None


@dataclass
class FieldInput:
    """One field of a record form: its definition, the value shown, and its errors."""

    definition: FieldDef
    value: Any
    errors: list[str]

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def widget(self) -> str:
        kind = self.definition.type
        if kind == "text":
            return "textarea"
        if kind in ("choice", "boolean"):
            return "select"
        return "input"

    @property
    def input_type(self) -> str:
        return INPUT_TYPES.get(self.definition.type, "text")

    @property
    def step(self) -> str:
        return "1" if self.definition.type == "integer" else "any"

    @property
    def options(self) -> list[tuple[str, str]]:
        if self.definition.type == "boolean":
            return [("true", "Yes"), ("false", "No")]
        return [(c, c) for c in self.definition.choices]

    @property
    def text(self) -> str:
        """The value as the HTML input expects it."""
        value = self.value
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if self.definition.type == "datetime" and isinstance(value, str):
            # Stored as UTC "…Z"; datetime-local inputs take "YYYY-MM-DDTHH:MM[:SS]" without a zone.
            return value.rstrip("Z")[:19]
        return str(value)


def field_inputs(type_def: ObjectTypeDef, values: dict, errors: dict[str, list[str]]) -> list[FieldInput]:
    return [FieldInput(f, values.get(f.name), errors.get(f.name, [])) for f in type_def.fields]


def posted_data(request, type_def: ObjectTypeDef) -> dict:
    """The form's values as strings; the record services coerce and validate them."""
    return {f.name: request.POST.get(f.name, "") for f in type_def.fields}


def non_field_errors(errors: dict[str, list[str]], type_def: ObjectTypeDef) -> list[str]:
    known = set(type_def.field_names)
    return [f"{name}: {m}" if name not in ("__all__", "fields") else m for name, msgs in errors.items() if name not in known for m in msgs]


class RecordTypesView(TenantView):
    """All object types with their record counts; admins define custom types here."""

    def get(self, request):
        counts = dict(Record.objects.for_tenant(self.tenant).values_list("object_type").annotate(n=Count("pk")).order_by())
        types = [{"type": t, "count": counts.get(t.slug, 0)} for t in list_types(self.tenant)]
        return render_page(
            request,
            "pages/records/types.html",
            {"types": types, "can_define": has_perm(request.user, self.tenant, "manage_settings")},
        )


def parse_field_rows(post) -> tuple[list[dict], dict[int, list[str]]]:
    """Field definitions from the indexed rows of the type form (`fields-<i>-name`, …).

    Rows without a name are ignored (the form always offers a few empty ones). Numbers
    that do not parse are reported against their row, before the service sees anything.
    """
    indexes = sorted({int(key.split("-")[1]) for key in post if key.startswith("fields-") and key.count("-") >= 2 and key.split("-")[1].isdigit()})
    fields: list[dict] = []
    row_errors: dict[int, list[str]] = {}
    for i in indexes:
        get = lambda name, i=i: (post.get(f"fields-{i}-{name}") or "").strip()  # noqa: E731
        name = get("name")
        if not name:
            continue
        raw: dict[str, Any] = {"name": name, "type": get("type") or "string"}
        if get("label"):
            raw["label"] = get("label")
        if get("description"):
            raw["description"] = get("description")
        if post.get(f"fields-{i}-required"):
            raw["required"] = True
        if get("choices"):
            raw["choices"] = [c.strip() for c in get("choices").split(",") if c.strip()]
        if get("ref"):
            raw["ref"] = get("ref")
        for bound in ("min", "max"):
            if get(bound):
                try:
                    number = float(finite_number(get(bound)))
                except ValueError:
                    row_errors.setdefault(i, []).append(f"{bound}: {get(bound)!r} is not a number")
                    continue
                raw[bound] = int(number) if number.is_integer() else number
        if get("default"):
            try:
                value = FieldDef.from_dict(raw).normalize(get("default"))
            except (KeyError, TypeError, ValueError):
                value = get("default")
            raw["default"] = value
        fields.append(raw)
    return fields, row_errors


def field_rows(fields: list[dict], spare: int = 3) -> list[dict]:
    """Rows for the type form: the existing fields as strings, then `spare` empty rows."""
    rows = []
    for f in fields:
        rows.append(
            {
                "name": f.get("name", ""),
                "type": f.get("type", "string"),
                "label": f.get("label", ""),
                "description": f.get("description", ""),
                "required": bool(f.get("required")),
                "choices": ", ".join(f.get("choices") or []),
                "ref": f.get("ref", ""),
                "min": "" if f.get("min") is None else f["min"],
                "max": "" if f.get("max") is None else f["max"],
                "default": "" if f.get("default") is None else f["default"],
            }
        )
    rows += [{"name": "", "type": "string", "required": False} for _ in range(spare)]
    return rows


class ObjectTypeFormView(TenantView):
    """Define or change a custom object type (owners and admins; DefineObjectType)."""

    def _existing(self, slug: str | None) -> ObjectType | None:
        if slug is None:
            return None
        return get_object_or_404(ObjectType.objects.for_tenant(self.tenant), slug=slug)

    def _render(self, request, row: ObjectType | None, values: dict, fields: list[dict], errors: dict, status: int = 200):
        return render_page(
            request,
            "pages/records/type_form.html",
            {
                "row": row,
                "values": values,
                "rows": field_rows(fields),
                "errors": errors,
                "field_types": FIELD_TYPES,
                "can_define": has_perm(request.user, self.tenant, "manage_settings"),
            },
            status=status,
        )

    def get(self, request, slug: str | None = None):
        row = self._existing(slug)
        values = {"slug": row.slug, "label": row.label} if row else {"slug": "", "label": ""}
        return self._render(request, row, values, row.fields if row else [], {})

    def post(self, request, slug: str | None = None):
        self.require("manage_settings")
        row = self._existing(slug)
        values = {"slug": row.slug if row else (request.POST.get("slug") or "").strip(), "label": (request.POST.get("label") or "").strip()}
        fields, row_errors = parse_field_rows(request.POST)
        errors: dict[str, list[str]] = {}
        if row_errors:
            errors["fields"] = [f"row {i + 1}: {m}" for i, msgs in row_errors.items() for m in msgs]
        else:
            try:
                saved = DefineObjectType(self.tenant, request.user, values["slug"], values["label"], fields).execute()
            except ValidationError as exc:
                errors = error_dict(exc)
            else:
                messages.success(request, f"Object type “{saved.label}” saved.")
                return redirect("record_list", tenant_slug=self.tenant.slug, object_type=saved.slug)
        return self._render(request, row, values, fields, errors, status=400)


def parse_filters(request, type_def: ObjectTypeDef) -> tuple[list[dict], list[dict]]:
    """Filters from the repeated `f`/`op`/`v` query parameters, and the rows to redisplay."""
    names, ops, values = request.GET.getlist("f"), request.GET.getlist("op"), request.GET.getlist("v")
    filters, rows = [], []
    for i, name in enumerate(names[:MAX_FILTER_ROWS]):
        op = ops[i] if i < len(ops) else "eq"
        value = values[i] if i < len(values) else ""
        rows.append({"field": name, "op": op, "value": value})
        if not name:
            continue
        spec: dict[str, Any] = {"field": name, "op": op}
        if op == "in":
            spec["value"] = [v.strip() for v in value.split(",") if v.strip()]
        elif op == "is_null":
            spec["value"] = value.strip().lower() not in ("false", "no", "0")
        else:
            spec["value"] = value
        filters.append(spec)
    while len(rows) < 1 or (len(rows) < MAX_FILTER_ROWS and rows[-1]["field"]):
        rows.append({"field": "", "op": "eq", "value": ""})
    return filters, rows


class RecordListView(TenantView):
    def get(self, request, object_type: str):
        type_def = type_or_404(self.tenant, object_type)
        filters, filter_rows = parse_filters(request, type_def)
        try:
            page_number = max(1, int(request.GET.get("page") or 1))
        except ValueError:
            page_number = 1
        order = request.GET.get("order") or ""
        errors: dict[str, list[str]] = {}
        try:
            result = query_records(self.tenant, type_def.slug, filters, order_by=order or None, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
        except ValidationError as exc:
            errors = error_dict(exc)
            result = None
        columns = list(type_def.fields[:LIST_COLUMNS])
        rows = []
        if result is not None:
            rows = [{"record": r, "cells": [r.data.get(f.name) for f in columns]} for r in result.records]
        total = result.total if result else 0
        pages = max(1, -(-total // PAGE_SIZE))
        context = {
            "type": type_def,
            "columns": columns,
            "rows": rows,
            "total": total,
            "page_number": page_number,
            "pages": pages,
            "has_next": page_number < pages,
            "has_previous": page_number > 1,
            "filter_rows": filter_rows,
            "ops": [(op, OP_LABELS[op]) for op in OPS],
            "order": order,
            "errors": errors,
            "filters_query": query_without(request, "page"),
            "can_edit": has_perm(request.user, self.tenant, "edit"),
            "can_define": has_perm(request.user, self.tenant, "manage_settings") and not type_def.builtin,
        }
        return render_page(request, "pages/records/list.html", context, partial="pages/records/_results.html", status=400 if errors else 200)


class RecordCreateView(TenantView):
    def _render(self, request, type_def, values, errors, status=200):
        return render_page(
            request,
            "pages/records/form.html",
            {"type": type_def, "inputs": field_inputs(type_def, values, errors), "errors": non_field_errors(errors, type_def), "record": None},
            status=status,
        )

    def get(self, request, object_type: str):
        type_def = type_or_404(self.tenant, object_type)
        self.require("edit")
        return self._render(request, type_def, {f.name: f.default for f in type_def.fields}, {})

    def post(self, request, object_type: str):
        type_def = type_or_404(self.tenant, object_type)
        self.require("edit")
        values = posted_data(request, type_def)
        data = {name: value for name, value in values.items() if value != ""}
        try:
            record = CreateRecord(self.tenant, request.user, type_def.slug, data).execute()
        except ValidationError as exc:
            return self._render(request, type_def, values, error_dict(exc), status=400)
        messages.success(request, f"{type_def.label} #{record.pk} created.")
        return redirect("record_detail", tenant_slug=self.tenant.slug, object_type=type_def.slug, pk=record.pk)


def record_or_404(tenant, type_def: ObjectTypeDef, pk: int) -> Record:
    return get_object_or_404(Record.objects.for_tenant(tenant).filter(object_type=type_def.slug), pk=pk)


class RecordDetailView(TenantView):
    def get(self, request, object_type: str, pk: int):
        type_def = type_or_404(self.tenant, object_type)
        record = record_or_404(self.tenant, type_def, pk)
        known = set(type_def.field_names)
        history = list(record.changes.select_related("actor", "execution").order_by("-created_at", "-pk")[:200])
        for change in history:
            pairs = (change.changes or {}).items()
            change.rows = [{"field": name, "old": p[0], "new": p[1]} for name, p in pairs if isinstance(p, list | tuple) and len(p) == 2]
        context = {
            "type": type_def,
            "record": record,
            "values": [{"field": f, "value": record.data.get(f.name)} for f in type_def.fields],
            # Fields a custom type no longer has are still shown (read-only) rather than hidden.
            "extra": {k: v for k, v in record.data.items() if k not in known},
            "history": history,
            "can_edit": has_perm(request.user, self.tenant, "edit", record),
        }
        return render_page(request, "pages/records/detail.html", context)


class RecordEditView(TenantView):
    def _render(self, request, type_def, record, values, errors, status=200):
        return render_page(
            request,
            "pages/records/form.html",
            {"type": type_def, "record": record, "inputs": field_inputs(type_def, values, errors), "errors": non_field_errors(errors, type_def)},
            status=status,
        )

    def get(self, request, object_type: str, pk: int):
        type_def = type_or_404(self.tenant, object_type)
        record = record_or_404(self.tenant, type_def, pk)
        self.require("edit", record)
        return self._render(request, type_def, record, record.data, {})

    def post(self, request, object_type: str, pk: int):
        type_def = type_or_404(self.tenant, object_type)
        record = record_or_404(self.tenant, type_def, pk)
        self.require("edit", record)
        values = posted_data(request, type_def)
        try:
            UpdateRecord(self.tenant, request.user, record, values).execute()
        except ValidationError as exc:
            return self._render(request, type_def, record, values, error_dict(exc), status=400)
        messages.success(request, f"{type_def.label} #{record.pk} saved.")
        return redirect("record_detail", tenant_slug=self.tenant.slug, object_type=type_def.slug, pk=record.pk)


class RecordDeleteView(TenantView):
    def post(self, request, object_type: str, pk: int):
        type_def = type_or_404(self.tenant, object_type)
        record = record_or_404(self.tenant, type_def, pk)
        self.require("edit", record)
        try:
            DeleteRecord(self.tenant, request.user, record).execute()
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("record_detail", tenant_slug=self.tenant.slug, object_type=type_def.slug, pk=record.pk)
        messages.success(request, f"{type_def.label} #{pk} deleted.")
        return redirect("record_list", tenant_slug=self.tenant.slug, object_type=type_def.slug)
