"""The browser circuit builder: the canvas page and the htmx partials it swaps in (node form,
trigger form, versions list, diff).

The builder reads and writes everything else through /api/v1 (static/builder/*.js): drafts,
validation, publishing, roll back, export, test runs, listening, step runs. Every view here
resolves the circuit through `Circuit.objects.restrict(user, "view", tenant)` (another
tenant's circuit, or one the user may not see, is a 404) and checks the object permission of
what it does (edit) on that circuit, so a guardian grant on one circuit works like the role;
bad input is a 400 naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import slugify

from actions.sdk import registry
from circuits.automation.engine import graph as graphs
from circuits.automation.engine.expressions import check_value
from circuits.automation.engine.graph import node_ports
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.models.trigger import Trigger
from circuits.automation.models.version import CircuitVersion, VersionStatus
from circuits.automation.services.circuits import CreateCircuit
from circuits.automation.services.versions import (
    DeleteTrigger,
    ImportCircuit,
    SaveTrigger,
    current_version,
    version_document,
)
from circuits.automation.triggers import registry as trigger_registry
from circuits.automation.triggers.base import TriggerKind
from circuits.automation.triggers.kinds.manual import ManualTrigger
from circuits.automation.triggers.kinds.webhook import WebhookTrigger
from circuits.core import strict_json
from circuits.core.numbers import finite_number
from circuits.tenancy.models.access import Credential
from circuits.tenancy.permissions import has_perm
from circuits.web import importmap
from circuits.web.views.base import TenantView
from circuits.web.views.builder import schema_forms
from circuits.web.views.builder.gallery import get_template, templates
from circuits.web.views.builder.services import diff_versions
from circuits.web.views.form_errors import error_dict

MAX_BODY = 2_000_000  # a circuit document larger than this is refused before parsing


def _bad(error: ValidationError, status: int = 400) -> HttpResponse:
    """A refused partial request: an HTML fragment naming each field (htmx swaps it into the panel)."""
    items = format_html_join("", "<li><strong>{}</strong>: {}</li>", ((field, " ".join(messages)) for field, messages in error_dict(error).items()))
    return HttpResponse(format_html('<div class="error" role="alert"><ul class="field-errors">{}</ul></div>', items), status=status)


def action_catalogue() -> list[dict]:
    """What the palette shows: every action with its category, description and default ports."""
    return [
        {
            "name": d["name"],
            "category": d["category"],
            "label": d["label"],
            "description": d["description"],
            "container": d["container"],
            "side_effects": d["side_effects"],
            "ports": node_ports(d["name"], {}),
        }
        for d in (a.describe() for a in registry.all_actions())
    ]


def _trigger_dict(trigger: Trigger) -> dict:
    kind = trigger_registry.get(trigger.type)
    data = {"id": trigger.pk, "type": trigger.type, "label": trigger_registry.label(trigger.type), "config": trigger.config, "enabled": trigger.enabled}
    if kind is not None:
        data["payload_help"] = kind.payload_help
        data["sample"] = kind.sample_payload(trigger.config or {})
    if trigger.type == WebhookTrigger.type and trigger.webhook_token:
        data["webhook_url"] = reverse("inbound_webhook", args=[trigger.webhook_token])
        data["test_webhook_url"] = reverse("test_webhook", args=[trigger.webhook_token])
    return data


class BuilderBase(TenantView):
    """Resolves the circuit from the URL; every builder endpoint starts here."""

    required_perm = "view"

    def setup_circuit(self, slug: str) -> Circuit:
        self.circuit = get_object_or_404(Circuit.objects.restrict(self.request.user, "view", self.tenant), slug=slug)
        return self.circuit

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except ValidationError as error:
            return _bad(error)

    def perms(self) -> dict[str, bool]:
        user = self.request.user
        return {p: has_perm(user, self.tenant, p, self.circuit) for p in ("edit", "publish", "run")}

    def credential_names(self, kinds: tuple[str, ...] | None) -> list[str]:
        qs = Credential.objects.for_tenant(self.tenant)
        if kinds:
            qs = qs.filter(kind__in=kinds)
        return list(qs.order_by("name").values_list("name", flat=True))

    def draft(self) -> CircuitVersion | None:
        return self.circuit.versions.filter(status=VersionStatus.DRAFT).first()

    def current_state(self) -> dict:
        """What the canvas shows: the draft if there is one, else the published version, with
        the revision the next save must name (0: the next change starts a new draft)."""
        version = current_version(self.circuit)
        document = version_document(version) if version else {"nodes": [], "edges": []}
        draft = self.draft()
        return {
            "document": document,
            "ports": {n["key"]: node_ports(n["action"], n["config"]) for n in document["nodes"]},
            "revision": draft.revision if draft else 0,
            "version": {"number": version.number, "status": version.status} if version else None,
        }


# --- the page ---------------------------------------------------------------------------------


class BuilderPage(BuilderBase):
    def get(self, request, slug: str):
        circuit = self.setup_circuit(slug)
        version = current_version(circuit)
        state = self.current_state()
        published = circuit.versions.filter(status=VersionStatus.PUBLISHED).first()
        last_test = Execution.objects.for_tenant(self.tenant).filter(circuit=circuit, is_test=True).order_by("-pk").first()
        base = f"/t/{self.tenant.slug}/circuits/{circuit.slug}/edit/"
        data = {
            "circuit": {"name": circuit.name, "slug": circuit.slug, "enabled": circuit.enabled},
            "tenant": self.tenant.slug,
            **state,
            "published": published.number if published else None,
            "triggers": [_trigger_dict(t) for t in circuit.triggers.order_by("pk")],
            "trigger_types": [{"value": v, "label": label} for v, label in trigger_registry.choices()],
            "actions": action_catalogue(),
            "perms": self.perms(),
            "last_test_execution": last_test.pk if last_test else None,
            "urls": {
                # The htmx partials this page swaps in; every JSON read and write goes to /api/v1.
                "base": base,
                "versions": base + "versions",
                "diff": base + "diff",
                "node_form": base + "node-form",
                "trigger_form": base + "trigger-form",
                "execution_page": f"/t/{self.tenant.slug}/executions/",
                "circuits": reverse("circuit_list", args=[self.tenant.slug]),
                "api": "/api/v1/",
            },
        }
        context = {"circuit": circuit, "builder_data": data, "perms": data["perms"], "version": version, "importmap": importmap.script_tag()}
        return render(request, "builder/builder.html", context)


# --- versions and diffs (htmx partials; saving, validating, publishing and rolling back go through /api/v1) ---


class VersionsView(BuilderBase):
    def get(self, request, slug: str):
        circuit = self.setup_circuit(slug)
        versions = list(circuit.versions.select_related("created_by").order_by("-number"))
        return render(request, "builder/partials/versions.html", {"circuit": circuit, "versions": versions, "perms": self.perms(), "tenant": self.tenant})


class DiffView(BuilderBase):
    def get(self, request, slug: str):
        circuit = self.setup_circuit(slug)
        try:
            a_number, b_number = int(request.GET.get("a", "")), int(request.GET.get("b", ""))
        except ValueError:
            raise ValidationError({"a": "Choose two versions (a and b) by number."}) from None
        a = circuit.versions.filter(number=a_number).first()
        b = circuit.versions.filter(number=b_number).first()
        if a is None or b is None:
            raise Http404("No such version.")
        diff = diff_versions(a, b)
        for node in diff["nodes_changed"]:
            for change in node["fields"]:
                change["before_text"] = json.dumps(change["before"], ensure_ascii=False) if change["before"] is not None else "—"
                change["after_text"] = json.dumps(change["after"], ensure_ascii=False) if change["after"] is not None else "—"
        return render(request, "builder/partials/diff.html", {"a": a, "b": b, "diff": diff})


# --- node and trigger forms (htmx) -------------------------------------------------------------


def _loads(text: str, default: Any, what: str) -> Any:
    if not text:
        return default
    try:
        return strict_json.loads(text)
    except strict_json.JSONRefused as exc:
        raise ValidationError({what: f"{what} is not valid JSON: {exc.detail}"}) from None


def expression_help(others: list[dict]) -> list[dict]:
    """What an expression can read: the trigger, each other step's output fields, vars, loop."""
    steps = []
    for other in others:
        if not isinstance(other, dict) or not isinstance(other.get("key"), str):
            continue
        action_class = registry.get(str(other.get("action", "")))
        props = list(((action_class.output_schema if action_class else {}) or {}).get("properties", {}))
        steps.append({"key": other["key"], "label": other.get("label") or other["key"], "fields": props})
    return steps


class NodeFormView(BuilderBase):
    """GET renders a node's form from its action's schema; POST parses and validates it."""

    def _context(self, action_class, key: str, node: dict, others: list[dict], fields, errors: list[str], node_errors: dict) -> dict:
        retry = node.get("retry") or {}
        return {
            "action": action_class.describe(),
            "key": key,
            "node": node,
            "retry": retry,
            "fields": fields,
            "errors": errors,
            "node_errors": node_errors,
            "steps_help": expression_help([o for o in others if o.get("key") != key]),
            "readonly": not has_perm(self.request.user, self.tenant, "edit", self.circuit),
            "post_url": self.request.path,
            "on_error_choices": [("fail", "Fail the execution"), ("continue", "Continue with the next step"), ("error_port", "Follow the error port")],
        }

    def _action(self, name: str):
        action_class = registry.get(name)
        if action_class is None:
            raise ValidationError({"action": f"Unknown action {name!r}."})
        return action_class

    def get(self, request, slug: str):
        self.setup_circuit(slug)
        action_class = self._action(request.GET.get("action", ""))
        node = _loads(request.GET.get("node", ""), {}, "node")
        others = _loads(request.GET.get("others", ""), [], "others")
        if not isinstance(node, dict) or not isinstance(others, list):
            raise ValidationError({"node": "node must be an object and others a list."})
        as_json = _loads(request.GET.get("json", ""), [], "json")
        if not isinstance(as_json, list):
            raise ValidationError({"json": "json must be a list of field names."})
        config = node.get("config") if isinstance(node.get("config"), dict) else {}
        fields = schema_forms.build_fields(
            action_class.schema, config, owner=action_class.name, credentials=self.credential_names, as_json={str(n) for n in as_json}
        )
        messages_ = action_class.validate_config(config) + check_value(config, "config") if config else []
        rest = schema_forms.attach_errors(messages_, fields)
        context = self._context(action_class, request.GET.get("key", ""), node, others, fields, rest, {})
        return render(request, "builder/partials/node_form.html", context)

    def post(self, request, slug: str):
        circuit = self.setup_circuit(slug)
        self.require("edit", circuit)
        action_class = self._action(request.POST.get("action", ""))
        old_key = request.POST.get("key", "")
        taken = set(_loads(request.POST.get("taken", ""), [], "taken"))
        config, parse_errors = schema_forms.parse_fields(action_class.schema, request.POST, owner=action_class.name)
        node, node_errors = self._parse_node(request.POST, old_key, taken)
        node["config"] = config
        messages_ = action_class.validate_config(config) + check_value(config, "config")
        spec = graphs.NodeSpec(node["key"], action_class.name, node["label"], config, node["retry"], node["timeout_seconds"], node["on_error"])
        for problem in graphs.check_policy(spec):
            node_errors.setdefault("n." + problem["field"], []).append(problem["message"])
        fields = schema_forms.build_fields(action_class.schema, config, owner=action_class.name, credentials=self.credential_names, errors=parse_errors)
        rest = schema_forms.attach_errors(messages_, fields)
        result = {
            "key": old_key,
            "node": {**node, "ports": node_ports(action_class.name, config)},
            "valid": not (parse_errors or messages_ or node_errors),
            "errors": [*messages_, *(m for ms in parse_errors.values() for m in ms), *(m for ms in node_errors.values() for m in ms)],
        }
        # A rows editor (rules, cases) with a bad row changes nothing: without a result the builder
        # keeps the node as it was, so a half-written rule list is never saved in part.
        held = any(f.kind == "rows" and f.name in parse_errors for f in schema_forms.all_fields(fields))
        context = {
            "fields": schema_forms.all_fields(fields),
            "errors": rest,
            "node_error_slots": [(f"fe-n-{n}", node_errors.get(f"n.{n}", [])) for n in ("key", "label", "retry", "timeout_seconds", "on_error")],
            "result_json": "" if held else json.dumps(result),
        }
        return render(request, "builder/partials/node_form_result.html", context)

    @staticmethod
    def _parse_node(data, old_key: str, taken: set[str]) -> tuple[dict, dict[str, list[str]]]:
        errors: dict[str, list[str]] = {}
        key = (data.get("n.key") or old_key).strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
            errors["n.key"] = ["use lower-case letters, digits and _ (starting with a letter), at most 64"]
        elif key == graphs.TRIGGER:
            errors["n.key"] = ["'trigger' is reserved for the circuit's trigger"]
        elif key != old_key and key in taken:
            errors["n.key"] = [f"another step is already called {key!r}"]
        if errors.get("n.key"):
            key = old_key
        retry: dict[str, Any] = {}
        for name, kind in (("max_attempts", int), ("backoff_seconds", float), ("max_backoff_seconds", float)):
            text = (data.get(f"n.{name}") or "").strip()
            if not text:
                continue
            try:
                value = finite_number(text, integer=kind is int)
            except ValueError:
                errors.setdefault("n.retry", []).append(f"{name.replace('_', ' ')}: {text!r} is not a {'whole ' if kind is int else ''}number")
                continue
            retry[name] = int(value) if float(value).is_integer() else value
        if retry.get("max_attempts") == 1 and len(retry) == 1:
            retry = {}  # one attempt is the default: keep the document clean
        timeout_text = (data.get("n.timeout_seconds") or "").strip()
        timeout = None
        if timeout_text:
            try:
                timeout = float(finite_number(timeout_text))
            except ValueError:
                errors.setdefault("n.timeout_seconds", []).append(f"{timeout_text!r} is not a number of seconds")
        on_error = data.get("n.on_error") or "fail"
        return {"key": key, "label": (data.get("n.label") or "").strip()[:200], "retry": retry, "timeout_seconds": timeout, "on_error": on_error}, errors


def _trigger_kind(type_: str) -> type[TriggerKind]:
    kind = trigger_registry.get(type_)
    if kind is None:
        raise ValidationError({"type": f"Unknown trigger type {type_!r}; choose one of {', '.join(trigger_registry.types())}."})
    return kind


class TriggerFormView(BuilderBase):
    """The trigger node's panel: GET renders one trigger's form; POST saves it (SaveTrigger)."""

    def _trigger(self, request) -> Trigger | None:
        raw = request.GET.get("trigger") or request.POST.get("trigger") or ""
        if not raw:
            return None
        if not raw.isdigit():
            raise ValidationError({"trigger": "trigger must be a trigger id."})
        return get_object_or_404(Trigger.objects.for_tenant(self.tenant).filter(circuit=self.circuit), pk=int(raw))

    def _render(
        self, request, trigger: Trigger | None, type_: str, config: dict, enabled: bool, errors: list[str], parse_errors=None, *, saved=False, status=200
    ):
        kind = _trigger_kind(type_)
        fields = schema_forms.build_fields(kind.schema, config, owner=f"trigger:{type_}", credentials=self.credential_names, errors=parse_errors or {})
        rest = schema_forms.attach_errors(errors, fields)
        triggers = list(self.circuit.triggers.order_by("pk"))
        for t in triggers:
            t.type_label = trigger_registry.label(t.type)
        context = {
            "trigger": trigger,
            "trigger_data": _trigger_dict(trigger) if trigger and trigger.pk else None,
            "triggers": triggers,
            "triggers_json_text": json.dumps([_trigger_dict(t) for t in triggers]),
            "type": type_,
            "types": trigger_registry.choices(),
            "enabled": enabled,
            "fields": fields,
            "errors": rest,
            "saved": saved,
            "readonly": not has_perm(request.user, self.tenant, "edit", self.circuit),
            "post_url": request.path,
            "payload_help": kind.payload_help,
            "sample_text": json.dumps(kind.sample_payload(config if isinstance(config, dict) else {}), indent=2) if kind.payload_help else "",
            "webhook_url": request.build_absolute_uri(reverse("inbound_webhook", args=[trigger.webhook_token])) if trigger and trigger.webhook_token else "",
        }
        return render(request, "builder/partials/trigger_form.html", context, status=status)

    def get(self, request, slug: str):
        self.setup_circuit(slug)
        trigger = self._trigger(request)
        if trigger is None and not request.GET.get("new"):
            trigger = self.circuit.triggers.order_by("pk").first()
        type_ = request.GET.get("type") or (trigger.type if trigger else ManualTrigger.type)
        config = trigger.config if trigger and trigger.type == type_ else {}
        return self._render(request, trigger, type_, config, trigger.enabled if trigger else True, [])

    def post(self, request, slug: str):
        circuit = self.setup_circuit(slug)
        self.require("edit", circuit)
        trigger = self._trigger(request)
        if request.POST.get("delete"):
            if trigger is None:
                raise ValidationError({"trigger": "Say which trigger to remove."})
            DeleteTrigger(self.tenant, request.user, trigger).execute()
            remaining = circuit.triggers.order_by("pk").first()
            type_ = remaining.type if remaining else ManualTrigger.type
            return self._render(request, remaining, type_, remaining.config if remaining else {}, remaining.enabled if remaining else True, [], saved=True)
        type_ = request.POST.get("type", "")
        kind = _trigger_kind(type_)
        config, parse_errors = schema_forms.parse_fields(kind.schema, request.POST, owner=f"trigger:{type_}")
        enabled = request.POST.get("enabled") == "on"
        if parse_errors:
            return self._render(request, trigger, type_, config, enabled, [], parse_errors, status=400)
        try:
            trigger = SaveTrigger(self.tenant, request.user, circuit, type=type_, config=config, enabled=enabled, trigger=trigger).execute()
        except ValidationError as error:
            messages_ = [m for ms in error_dict(error).values() for m in ms]
            return self._render(request, trigger, type_, config, enabled, messages_, status=400)
        return self._render(request, trigger, trigger.type, trigger.config, trigger.enabled, [], saved=True)


# --- new circuits: blank, from the gallery, from an exported file --------------------------------


class NewCircuitView(TenantView):
    required_perm = "view"

    def _context(self, errors: dict | None = None, values: dict | None = None) -> dict:
        return {
            "templates": templates(),
            "errors": errors or {},
            "values": values or {},
            "can_create": has_perm(self.request.user, self.tenant, "edit"),
        }

    def get(self, request):
        return render(request, "builder/new.html", self._context())

    def post(self, request):
        self.require("edit")
        mode = request.POST.get("mode", "blank")
        name = request.POST.get("name", "").strip()
        slug = request.POST.get("slug", "").strip()
        try:
            if mode == "template":
                template = get_template(request.POST.get("template", ""))
                if template is None:
                    raise ValidationError({"template": "Choose one of the templates."})
                document = template.document
                circuit = ImportCircuit(
                    self.tenant, request.user, document, name=name or document["name"], slug=slug or self._free_slug(document["slug"])
                ).execute()
            elif mode == "import":
                document = self._uploaded_document(request)
                circuit = ImportCircuit(self.tenant, request.user, document, name=name or None, slug=slug or None).execute()
            elif mode == "blank":
                circuit = CreateCircuit(self.tenant, request.user, name=name, slug=slug or slugify(name)).execute()
            else:
                raise ValidationError({"mode": "mode must be blank, template or import."})
        except ValidationError as error:
            return render(request, "builder/new.html", self._context(error_dict(error), request.POST), status=400)
        messages.success(request, f"Circuit “{circuit.name}” created.")
        return redirect("builder", tenant_slug=self.tenant.slug, slug=circuit.slug)

    def _free_slug(self, base: str) -> str:
        existing = set(Circuit.objects.for_tenant(self.tenant).filter(slug__startswith=base).values_list("slug", flat=True))
        if base not in existing:
            return base
        n = 2
        while f"{base}-{n}"[:50] in existing:
            n += 1
        return f"{base}-{n}"[:50]

    @staticmethod
    def _uploaded_document(request) -> dict:
        upload = request.FILES.get("file")
        if upload is not None:
            if upload.size > MAX_BODY:
                raise ValidationError({"file": f"The file is larger than {MAX_BODY:,} bytes."})
            text = upload.read().decode("utf-8", errors="replace")
        else:
            text = request.POST.get("document", "")
        if not text.strip():
            raise ValidationError({"file": "Choose an exported circuit file or paste its JSON."})
        try:
            document = strict_json.loads(text)
        except strict_json.JSONRefused as exc:
            raise ValidationError({"file": f"The file is not valid JSON: {exc.detail}"}) from None
        if not isinstance(document, dict):
            raise ValidationError({"file": "The file must hold one circuit document (a JSON object)."})
        return document
