"""Trigger kinds: a closed registry filled by a validating decorator; record hooks and chaining through signals."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from jsonschema.exceptions import SchemaError

from circuits.automation.engine.signals import execution_finished
from circuits.automation.models.execution import Execution
from circuits.automation.models.trigger import Trigger
from circuits.automation.services.versions import SaveTrigger
from circuits.automation.triggers import registry
from circuits.automation.triggers.base import TriggerKind
from circuits.automation.triggers.registry import RegistryError, register, validate_trigger
from circuits.records.models import Record
from circuits.records.service import CreateRecord
from circuits.records.signals import record_before_save, record_changed
from tests.engine.helpers import build, chain, node

ROOT = Path(__file__).resolve().parents[2]
BUILT_IN = ["manual", "api", "event", "record_change", "before_save", "schedule", "webhook", "threshold", "circuit_completed"]


def _kind(**attributes) -> type[TriggerKind]:
    base = {
        "type": "test_kind",
        "label": "Test",
        "description": "A kind made by a test.",
        "schema": {"type": "object", "properties": {}, "additionalProperties": False},
    }
    return type("TestKind", (TriggerKind,), {**base, **attributes})


def test_every_built_in_kind_is_registered_in_picker_order():
    assert registry.types() == BUILT_IN
    assert dict(registry.choices())["webhook"] == "Inbound webhook"


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ({"type": "Bad-Type"}, "lower_snake_case"),
        ({"type": "x" * 33}, "at most 32"),
        ({"type": "manual"}, "registered twice"),
        ({"description": ""}, "label and description"),
        ({"schema": {"type": "object", "properties": {}}}, "closed object"),
        ({"schema": {"type": "array", "additionalProperties": False}}, "closed object"),
        ({"key_field": "name"}, "required config property"),
    ],
)
def test_registration_refuses_a_broken_kind_naming_the_problem(attributes, problem):
    with pytest.raises(RegistryError, match=problem):
        register(_kind(**attributes))
    assert registry.types() == BUILT_IN


def test_registration_refuses_a_schema_that_is_not_valid_json_schema():
    with pytest.raises(SchemaError):
        register(_kind(schema={"type": "object", "additionalProperties": False, "required": "event"}))


def test_validation_comes_from_the_kind_schema_plus_its_own_checks():
    assert validate_trigger("nonsense", {}) == [f"type: unknown trigger type 'nonsense'; choose one of {', '.join(BUILT_IN)}"]
    assert validate_trigger("event", {}) == ["config: 'event' is a required property"]
    assert validate_trigger("schedule", {"cron": "not cron"}) == ["config.cron: 'not cron' is not a valid cron expression"]
    assert validate_trigger("webhook", {"auth": "hmac"}) == ["config.secret_credential: HMAC authentication needs a webhook_secret credential"]
    assert validate_trigger("event", {"event": "lead.created", "condition": "event.amount >"})  # the condition is parsed
    assert validate_trigger("threshold", {"object_type": "lead", "field": "score", "value": 80}) == []


@pytest.mark.django_db
def test_saving_a_trigger_stores_its_type_string_and_derives_the_kind_key(world):
    circuit = build(world, "keyed", [node("x", "util.transform", {"template": "1"})], chain("x"), publish=False)
    saved = {
        t: SaveTrigger(world.tenant, world.owner, circuit, type=t, config=c).execute()
        for t, c in [("event", {"event": "invoice.paid"}), ("circuit_completed", {"circuit": "other"}), ("webhook", {}), ("schedule", {"cron": "0 9 * * *"})]
    }
    rows = {t.type: t for t in Trigger.objects.filter(circuit=circuit)}
    assert rows["event"].key == "invoice.paid" and rows["circuit_completed"].key == "other"
    assert rows["webhook"].key == "" and rows["webhook"].webhook_token
    assert rows["schedule"].next_run_at is not None
    with pytest.raises(ValidationError, match="unknown trigger type 'carrier_pigeon'"):
        SaveTrigger(world.tenant, world.owner, circuit, type="carrier_pigeon", config={}).execute()
    assert Trigger.objects.filter(circuit=circuit).count() == len(saved)


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for item in ast.walk(ast.parse(path.read_text())):
            if isinstance(item, ast.ImportFrom) and item.module:
                found.add(item.module)
            elif isinstance(item, ast.Import):
                found.update(alias.name for alias in item.names)
    return found


@pytest.mark.parametrize("package", ["circuits/automation/engine", "circuits/records"])
def test_the_engine_and_the_record_store_never_import_the_trigger_machinery(package):
    offending = sorted(m for m in _imports(package) if m == "circuits.automation.triggers" or m.startswith("circuits.automation.triggers."))
    assert offending == []


def test_the_trigger_receivers_are_connected_when_the_app_is_ready():
    assert record_changed.has_listeners(Record) and record_before_save.has_listeners(Record) and execution_finished.has_listeners(Execution)


@pytest.mark.django_db
def test_before_save_circuits_run_inside_the_saves_transaction(world):
    normaliser = build(
        world,
        "normalise",
        [node("set", "control.set_record_fields", {"fields": {"source": "web"}})],
        chain("set"),
        triggers=[{"type": "before_save", "config": {"object_type": "lead"}}],
    )

    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack), transaction.atomic():
        record = CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.test", "last_name": "L"}).execute()
        assert record.data["source"] == "web"
        assert Execution.objects.filter(circuit=normaliser, status="succeeded").count() == 1
        raise RolledBack
    # The before-save execution was written in the save's transaction: it went with it.
    assert not Record.objects.exists()
    assert not Execution.objects.filter(circuit=normaliser).exists()


@pytest.mark.django_db
def test_a_before_save_refusal_travels_back_through_the_signal_and_nothing_is_saved(world):
    build(
        world,
        "refuse",
        [node("no", "control.reject_save", {"message": "Leads are closed today."})],
        chain("no"),
        triggers=[{"type": "before_save", "config": {"object_type": "lead"}}],
    )
    with pytest.raises(ValidationError, match="Leads are closed today"):
        CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.test", "last_name": "L"}).execute()
    assert not Record.objects.exists()


@pytest.mark.django_db
def test_record_change_triggers_fire_only_once_the_write_commits(world, django_capture_on_commit_callbacks):
    listener = build(
        world,
        "on-create",
        [node("x", "util.transform", {"template": "{{ trigger.record.id }}"})],
        chain("x"),
        triggers=[{"type": "record_change", "config": {"object_type": "lead", "on": ["created"]}}],
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.test", "last_name": "L"}).execute()
    assert not Execution.objects.filter(circuit=listener).exists()  # not before commit
    for callback in callbacks:
        callback()
    assert Execution.objects.filter(circuit=listener).count() == 1
