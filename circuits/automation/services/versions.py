"""Drafts, validation, publishing, roll back, import and export of circuit versions."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone
from jsonschema.validators import Draft202012Validator

from circuits.automation.engine import graph as graphs
from circuits.automation.failures import policy as failure_policy
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.trigger import Trigger
from circuits.automation.models.version import CircuitVersion, Edge, Node, VersionStatus
from circuits.automation.services.circuits import CreateCircuit
from circuits.automation.triggers import registry as trigger_registry
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service

FORMAT = "circuitos.circuit/v1"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "circuit.schema.json"


class Conflict(ValidationError):
    """The draft changed since the editor loaded it (someone else saved)."""


class GraphInvalid(ValidationError):
    def __init__(self, errors: list[dict]):
        super().__init__([e["message"] for e in errors])
        self.graph_errors = errors


@lru_cache(maxsize=1)
def document_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def check_document(document: Any) -> None:
    if not isinstance(document, dict):
        raise ValidationError({"document": "The circuit document must be a JSON object."})
    errors = sorted(Draft202012Validator(document_schema()).iter_errors(document), key=lambda e: list(e.path))
    if errors:
        raise ValidationError({"document": [f"{'/'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors[:20]]})
    keys = [n["key"] for n in document["nodes"]]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValidationError({"document": [f"nodes: duplicate key {k!r}" for k in duplicates]})
    if graphs.TRIGGER in keys:
        raise ValidationError({"document": ["nodes: 'trigger' is reserved for the circuit's trigger"]})
    known = set(keys) | {graphs.TRIGGER}
    dangling = [f"edges/{i}: unknown node {end!r}" for i, e in enumerate(document["edges"]) for end in (e["source"], e["target"]) if end not in known]
    if dangling:
        raise ValidationError({"document": dangling})


def _node_document(n: graphs.NodeSpec) -> dict:
    node = {
        "key": n.key,
        "action": n.action,
        "label": n.label,
        "config": n.config,
        "position": {"x": n.x, "y": n.y},
        "retry": n.retry,
        "timeout_seconds": n.timeout_seconds,
        "on_error": n.on_error,
    }
    if n.pinned is not None:
        node["pinned"] = n.pinned
    return node


def version_document(version: CircuitVersion) -> dict:
    graph = graphs.from_version(version)
    return {
        "nodes": [_node_document(n) for n in graph.nodes.values()],
        "edges": [{"source": s, "port": p, "target": t} for s, p, t in graph.edges],
    }


def export_circuit(circuit: Circuit, version: CircuitVersion | None = None) -> dict:
    version = version or current_version(circuit)
    document = {
        "format": FORMAT,
        "name": circuit.name,
        "slug": circuit.slug,
        "description": circuit.description,
        "tags": circuit.tags,
        # Names (members, credential, error circuit) are this tenant's; an import checks them in its own.
        "on_failure": circuit.on_failure,
        "triggers": [{"type": t.type, "config": t.config, "enabled": t.enabled} for t in circuit.triggers.order_by("pk")],
        "nodes": [],
        "edges": [],
    }
    if version is not None:
        document["version"] = version.number
        document.update(version_document(version))
    return document


def current_version(circuit: Circuit) -> CircuitVersion | None:
    """The draft if there is one, else the published version, else the newest."""
    versions = {v.status: v for v in circuit.versions.filter(status__in=[VersionStatus.DRAFT, VersionStatus.PUBLISHED])}
    return versions.get(VersionStatus.DRAFT) or versions.get(VersionStatus.PUBLISHED) or circuit.versions.order_by("-number").first()


def _write_graph(version: CircuitVersion, document: dict) -> None:
    version.edges.all().delete()
    version.nodes.all().delete()
    nodes = Node.objects.bulk_create(
        [
            Node(
                version=version,
                key=n["key"],
                action=n["action"],
                label=n.get("label", ""),
                config=n.get("config", {}),
                x=(n.get("position") or {}).get("x", 0),
                y=(n.get("position") or {}).get("y", 0),
                retry=n.get("retry") or {},
                timeout_seconds=n.get("timeout_seconds"),
                on_error=n.get("on_error", "fail"),
                pinned=n.get("pinned"),
            )
            for n in document["nodes"]
        ]
    )
    if any(n.pk is None for n in nodes):  # backends without RETURNING on bulk insert
        nodes = list(version.nodes.all())
    by_key = {n.key: n for n in nodes}
    Edge.objects.bulk_create(
        [
            Edge(
                version=version,
                source=None if e["source"] == graphs.TRIGGER else by_key[e["source"]],
                source_port=e.get("port", "next"),
                target=by_key[e["target"]],
            )
            for e in document["edges"]
        ]
    )


class SaveDraft(Service):
    """Create or update the circuit's draft from a document (nodes + edges).

    `base_revision` is the draft revision the editor started from; if someone saved in
    between, the save is refused as a conflict instead of silently overwriting their work.
    """

    perm = Perm.EDIT
    denied_message = "You cannot edit this circuit."

    def __init__(self, tenant, actor, circuit: Circuit, document: dict, *, base_revision: int | None = None):
        super().__init__(tenant, actor)
        self.circuit = circuit
        self.document = {"format": FORMAT, **document} if isinstance(document, dict) else document
        self.base_revision = base_revision

    def permission_object(self):
        return self.circuit

    def validate(self) -> None:
        check_document(self.document)
        draft = self.circuit.versions.filter(status=VersionStatus.DRAFT).first()
        if draft is not None and self.base_revision is not None and draft.revision != self.base_revision:
            raise Conflict(
                f"The draft was changed by someone else (revision {draft.revision}, you edited revision {self.base_revision}). Reload to see their changes."
            )

    def perform(self) -> CircuitVersion:
        draft = CircuitVersion.objects.select_for_update().filter(circuit=self.circuit, status=VersionStatus.DRAFT).first()
        if draft is None:
            number = (self.circuit.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            draft = CircuitVersion.objects.create(tenant=self.tenant, circuit=self.circuit, number=number, created_by=self.actor)
        elif self.base_revision is not None and draft.revision != self.base_revision:
            raise Conflict("The draft was changed by someone else. Reload to see their changes.")
        else:
            draft.revision += 1
            draft.save(update_fields=["revision", "updated_at"])
        _write_graph(draft, self.document)
        return draft


def validate_version(version: CircuitVersion) -> list[dict]:
    return graphs.validate(graphs.from_version(version))


def validate_document(document: dict) -> list[dict]:
    """The problems a document would have as the draft, without saving it (a document that
    could not be saved at all raises ValidationError, as SaveDraft does)."""
    document = {"format": FORMAT, **document}
    check_document(document)
    return graphs.validate(graphs.from_document(document))


def testable_version(circuit: Circuit) -> CircuitVersion:
    """The version a test run uses (the draft, else the published one), refused unless its graph is valid."""
    version = current_version(circuit)
    if version is None:
        raise ValidationError({"circuit": "The circuit has no version to test yet."})
    errors = validate_version(version)
    if errors:
        raise GraphInvalid(errors)
    return version


class PublishDraft(Service):
    audit_action = "version.published"
    audit_fields = ("id", "circuit", "number", "status", "note", "published_at", "created_by")

    def audit_target(self):
        return self.draft

    perm = Perm.PUBLISH
    denied_message = "You cannot publish this circuit."

    def __init__(self, tenant, actor, circuit: Circuit, note: str = ""):
        super().__init__(tenant, actor)
        self.circuit = circuit
        self.note = note

    def permission_object(self):
        return self.circuit

    def validate(self) -> None:
        self.draft = self.circuit.versions.filter(status=VersionStatus.DRAFT).first()
        if self.draft is None:
            raise ValidationError({"version": "There is no draft to publish."})
        errors = validate_version(self.draft)
        if errors:
            raise GraphInvalid(errors)

    def perform(self) -> CircuitVersion:
        CircuitVersion.objects.filter(circuit=self.circuit, status=VersionStatus.PUBLISHED).update(status=VersionStatus.ARCHIVED)
        self.draft.status = VersionStatus.PUBLISHED
        self.draft.published_at = timezone.now()
        self.draft.note = self.note or self.draft.note
        self.draft.save(update_fields=["status", "published_at", "note", "updated_at"])
        return self.draft


class Rollback(Service):
    """Publish an earlier version again (its graph is unchanged: versions are immutable)."""

    audit_action = "version.rolled_back"
    audit_fields = ("id", "circuit", "number", "status", "note", "published_at", "created_by")

    def audit_target(self):
        return self.version

    perm = Perm.PUBLISH
    denied_message = "You cannot publish this circuit."

    def __init__(self, tenant, actor, circuit: Circuit, number: int):
        super().__init__(tenant, actor)
        self.circuit = circuit
        self.number = number

    def permission_object(self):
        return self.circuit

    def validate(self) -> None:
        self.version = self.circuit.versions.filter(number=self.number).exclude(status=VersionStatus.DRAFT).first()
        if self.version is None:
            raise ValidationError({"version": f"There is no published or archived version {self.number}."})
        errors = validate_version(self.version)
        if errors:  # e.g. an action was removed from the library since
            raise GraphInvalid(errors)

    def perform(self) -> CircuitVersion:
        CircuitVersion.objects.filter(circuit=self.circuit, status=VersionStatus.PUBLISHED).exclude(pk=self.version.pk).update(status=VersionStatus.ARCHIVED)
        self.version.status = VersionStatus.PUBLISHED
        self.version.published_at = timezone.now()
        self.version.save(update_fields=["status", "published_at", "updated_at"])
        return self.version


class SaveTrigger(Service):
    """Create or change one trigger of a circuit (config validated per type)."""

    audit_action = "trigger.saved"

    def audit_target(self):
        return self.trigger if self.trigger.pk else None

    perm = Perm.EDIT
    denied_message = "You cannot edit this circuit's triggers."

    def __init__(self, tenant, actor, circuit: Circuit, *, type: str, config: dict | None = None, enabled: bool = True, trigger: Trigger | None = None):
        super().__init__(tenant, actor)
        self.circuit = circuit
        self.trigger = trigger or Trigger(tenant=tenant, circuit=circuit)
        self.trigger.type = type
        self.trigger.config = config if config is not None else {}
        self.trigger.enabled = enabled

    def permission_object(self):
        return self.circuit

    def validate(self) -> None:
        if self.trigger.circuit_id != self.circuit.pk or self.trigger.tenant_id != self.tenant.pk:
            raise ValidationError("That trigger belongs to another circuit.")
        trigger_registry.prepare(self.trigger)

    def perform(self) -> Trigger:
        self.trigger.save()
        return self.trigger


class DeleteTrigger(Service):
    audit_action = "trigger.deleted"

    def audit_target(self):
        return self.trigger

    perm = Perm.EDIT
    denied_message = "You cannot edit this circuit's triggers."

    def __init__(self, tenant, actor, trigger: Trigger):
        super().__init__(tenant, actor)
        self.trigger = trigger

    def permission_object(self):
        return self.trigger.circuit

    def validate(self) -> None:
        if self.trigger.tenant_id != self.tenant.pk:
            raise ValidationError("That trigger belongs to another tenant.")

    def perform(self) -> None:
        self.trigger.delete()


class ImportCircuit(Service):
    """Create a circuit from an exported document: circuit, triggers and a draft."""

    audit_action = "circuit.imported"
    perm = Perm.EDIT
    denied_message = "Your role cannot create circuits."

    def __init__(self, tenant, actor, document: dict, *, slug: str | None = None, name: str | None = None):
        super().__init__(tenant, actor)
        self.document = document
        self.slug = slug
        self.name = name

    def validate(self) -> None:
        check_document(self.document)
        for i, t in enumerate(self.document.get("triggers", [])):
            errors = trigger_registry.validate_trigger(t["type"], t.get("config", {}), self.tenant)
            if errors:
                raise ValidationError({"document": [f"triggers/{i}: {e}" for e in errors]})
        self.create = CreateCircuit(
            self.tenant,
            self.actor,
            name=self.name or self.document.get("name", ""),
            slug=self.slug or self.document.get("slug", ""),
            description=self.document.get("description", ""),
            tags=self.document.get("tags", []),
        )
        self.create.validate()
        self.on_failure = None
        if self.document.get("on_failure") is not None:
            try:
                self.on_failure = failure_policy.clean(self.tenant, self.document["on_failure"], field_name="on_failure")
            except ValidationError as exc:
                problems = exc.message_dict.get("on_failure", exc.messages)
                raise ValidationError(
                    {"document": [f"on_failure: {p}" for p in problems] + ["(remove on_failure from the document to use this tenant's default policy)"]}
                ) from None

    def perform(self) -> Circuit:
        circuit = self.create.perform()
        if self.on_failure is not None:
            circuit.on_failure = self.on_failure
            circuit.save(update_fields=["on_failure"])
        for t in self.document.get("triggers", []):
            trigger = Trigger(tenant=self.tenant, circuit=circuit, type=t["type"], config=t.get("config", {}), enabled=t.get("enabled", True))
            trigger_registry.prepare(trigger)
            trigger.save()
        draft = CircuitVersion.objects.create(tenant=self.tenant, circuit=circuit, number=1, created_by=self.actor, note="imported")
        _write_graph(draft, self.document)
        return circuit
