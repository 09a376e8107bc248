"""Record triggers: after create/update/delete, thresholds, and before-save circuits (Apex-style)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from circuits.automation.models.execution import Execution
from circuits.automation.models.trigger import Event
from circuits.records.models import Record
from circuits.records.service import CreateRecord, DeleteRecord, UpdateRecord
from tests.engine.helpers import build, chain, node


def lead(world, actor=None, **data):
    fields = {"email": "ada@example.test", "last_name": "Lovelace", **data}
    return CreateRecord(world.tenant, actor or world.editor, "lead", fields).execute()


def started(circuit) -> list[Execution]:
    return list(Execution.objects.filter(circuit=circuit).order_by("pk"))


def _listener(world, slug, type_, config):
    return build(world, slug, [node("x", "util.transform", {"template": "{{ trigger }}"})], chain("x"), triggers=[{"type": type_, "config": config}])


@pytest.mark.django_db
def test_creating_a_lead_publishes_lead_created_and_fires_record_change_triggers(world, django_capture_on_commit_callbacks):
    on_create = _listener(world, "on-create", "record_change", {"object_type": "lead", "on": ["created"]})
    on_update = _listener(world, "on-update", "record_change", {"object_type": "lead", "on": ["updated"]})
    with django_capture_on_commit_callbacks(execute=True):
        record = lead(world)
    assert Event.objects.filter(tenant=world.tenant, name="lead.created").count() == 1
    [execution] = started(on_create)
    assert execution.input["record"]["id"] == record.pk and execution.input["operation"] == "created"
    assert execution.event.name == "lead.created"
    assert started(on_update) == []


@pytest.mark.django_db
def test_update_triggers_respect_field_filters_and_conditions(world, django_capture_on_commit_callbacks):
    status_watch = _listener(world, "status-watch", "record_change", {"object_type": "lead", "on": ["updated"], "fields": ["status"]})
    big = _listener(world, "big-score", "record_change", {"object_type": "lead", "on": ["updated"], "condition": "record.score >= 50"})
    with django_capture_on_commit_callbacks(execute=True):
        record = lead(world, score=10)
    with django_capture_on_commit_callbacks(execute=True):
        UpdateRecord(world.tenant, world.editor, record, {"title": "CTO"}).execute()
    assert started(status_watch) == [] and started(big) == []
    with django_capture_on_commit_callbacks(execute=True):
        UpdateRecord(world.tenant, world.editor, record, {"status": "working", "score": 60}).execute()
    [watch] = started(status_watch)
    assert watch.input["changes"]["status"] == ["new", "working"]
    assert len(started(big)) == 1
    assert Event.objects.filter(name="lead.score_changed").count() == 1


@pytest.mark.django_db
def test_opportunity_stage_changes_publish_won_events(world, django_capture_on_commit_callbacks):
    on_won = _listener(world, "won", "event", {"event": "opportunity.won"})
    with django_capture_on_commit_callbacks(execute=True):
        opp = CreateRecord(world.tenant, world.editor, "opportunity", {"name": "Big deal", "amount": 1000}).execute()
    with django_capture_on_commit_callbacks(execute=True):
        UpdateRecord(world.tenant, world.editor, opp, {"stage": "closed_won"}).execute()
    assert {e.name for e in Event.objects.all()} >= {"opportunity.created", "opportunity.updated", "opportunity.stage_changed", "opportunity.won"}
    assert len(started(on_won)) == 1


@pytest.mark.django_db
def test_delete_fires_after_delete_triggers_with_the_last_data(world, django_capture_on_commit_callbacks):
    on_delete = _listener(world, "on-delete", "record_change", {"object_type": "lead", "on": ["deleted"]})
    with django_capture_on_commit_callbacks(execute=True):
        record = lead(world)
    with django_capture_on_commit_callbacks(execute=True):
        DeleteRecord(world.tenant, world.editor, record).execute()
    [execution] = started(on_delete)
    assert execution.input["old"]["email"] == "ada@example.test"


@pytest.mark.django_db
def test_threshold_fires_once_per_crossing(world, django_capture_on_commit_callbacks):
    hot = _listener(world, "hot", "threshold", {"object_type": "lead", "field": "score", "value": 80})
    with django_capture_on_commit_callbacks(execute=True):
        record = lead(world, score=10)
    for score, expected in [(50, 0), (85, 1), (90, 1), (95, 1), (20, 1), (81, 2)]:
        with django_capture_on_commit_callbacks(execute=True):
            UpdateRecord(world.tenant, world.editor, record, {"score": score}).execute()
        assert len(started(hot)) == expected, f"after score {score}"
    assert started(hot)[0].input["threshold"] == {"field": "score", "value": 80, "crossed": "above"}


@pytest.mark.django_db
def test_record_triggers_never_fire_across_tenants(world, django_capture_on_commit_callbacks):
    _listener(world, "mine", "record_change", {"object_type": "lead", "on": ["created"]})
    with django_capture_on_commit_callbacks(execute=True):
        CreateRecord(world.other_tenant, world.outsider, "lead", {"email": "x@globex.test", "last_name": "X"}).execute()
    assert Execution.objects.count() == 0
    assert Event.objects.filter(tenant=world.tenant).count() == 0


@pytest.mark.django_db
def test_before_save_circuit_sets_fields_on_the_record_being_saved(world):
    build(
        world,
        "normalise",
        [node("set", "control.set_record_fields", {"fields": {"email": "{{ trigger.record.email | lower }}", "source": "web"}})],
        chain("set"),
        triggers=[{"type": "before_save", "config": {"object_type": "lead"}}],
    )
    record = lead(world, email="ADA@Example.TEST")
    record.refresh_from_db()
    assert record.data["email"] == "ada@example.test" and record.data["source"] == "web"


@pytest.mark.django_db
def test_a_before_save_field_whose_template_found_nothing_keeps_the_value_being_saved(world):
    # A missing key renders to null (lenient data): setting the field to it must not wipe what is being saved.
    record = lead(world, phone="+44 20 7946 0000")
    build(
        world,
        "stamp",
        [node("set", "control.set_record_fields", {"fields": {"phone": "{{ trigger.record.fax }}", "source": "{{ trigger.record.fax or 'web' }}"}})],
        chain("set"),
        triggers=[{"type": "before_save", "config": {"object_type": "lead", "on": ["updated"]}}],
    )
    UpdateRecord(world.tenant, world.editor, record, {"last_name": "Byron"}).execute()
    record.refresh_from_db()
    assert record.data["phone"] == "+44 20 7946 0000" and record.data["source"] == "web" and record.data["last_name"] == "Byron"


@pytest.mark.django_db
def test_before_save_circuit_can_reject_the_save_with_a_message(world):
    build(
        world,
        "no-free-mail",
        [
            node("check", "control.if", {"condition": "{{ trigger.record.email.endswith('@freemail.test') }}"}),
            node("reject", "control.reject_save", {"message": "Use a company e-mail address."}),
        ],
        [{"source": "trigger", "target": "check"}, {"source": "check", "port": "true", "target": "reject"}],
        triggers=[{"type": "before_save", "config": {"object_type": "lead", "on": ["created", "updated"]}}],
    )
    with pytest.raises(ValidationError, match="Use a company e-mail address"):
        lead(world, email="joe@freemail.test")
    assert not Record.objects.exists()
    record = lead(world, email="joe@company.test")
    with pytest.raises(ValidationError, match="company e-mail"):
        UpdateRecord(world.tenant, world.editor, record, {"email": "joe@freemail.test"}).execute()
    record.refresh_from_db()
    assert record.data["email"] == "joe@company.test"


@pytest.mark.django_db
def test_a_circuit_does_not_retrigger_itself_through_its_own_writes(world, django_capture_on_commit_callbacks):
    from circuits.automation.engine.runner import run_now

    circuit = build(
        world,
        "self-update",
        [node("touch", "data.update_record", {"object_type": "lead", "record_id": "{{ trigger.record.id }}", "fields": {"title": "touched"}})],
        chain("touch"),
        triggers=[{"type": "record_change", "config": {"object_type": "lead", "on": ["created", "updated"]}}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        lead(world)
    [first] = started(circuit)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_now(first).status == "succeeded"
    assert len(started(circuit)) == 1  # its own update did not start it again
