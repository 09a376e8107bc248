"""Record services: permissions, tenant scope, history, references, upsert, and the trigger hooks."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from circuits.automation.models.trigger import Event
from circuits.records.models import ObjectType, Record, RecordChange
from circuits.records.service import CreateRecord, DefineObjectType, DeleteRecord, UpdateRecord, UpsertRecord
from tests.records.helpers import bare_execution

pytestmark = pytest.mark.django_db


def lead(world, actor=None, **data) -> Record:
    return CreateRecord(world.tenant, actor or world.editor, "lead", {"email": "ada@example.com", **data}).execute()


def test_creating_a_record_applies_defaults_and_writes_history(world):
    record = lead(world, first_name="Ada", score="42")
    record.refresh_from_db()
    assert record.tenant == world.tenant and record.object_type == "lead"
    assert record.data == {"email": "ada@example.com", "first_name": "Ada", "score": 42, "status": "new"}
    assert record.created_by == world.editor == record.updated_by
    change = record.changes.get()
    assert change.operation == "created" and change.actor == world.editor and change.execution is None
    assert change.changes == {"email": [None, "ada@example.com"], "first_name": [None, "Ada"], "score": [None, 42], "status": [None, "new"]}


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_roles_without_edit_cannot_write_records(world, role):
    with pytest.raises(PermissionDenied):
        lead(world, actor=world.user(role))
    assert not Record.objects.exists()


def test_a_member_of_another_tenant_cannot_write_here(world):
    with pytest.raises(PermissionDenied):
        CreateRecord(world.tenant, world.outsider, "lead", {"email": "x@example.com"}).execute()


def test_the_engine_writes_without_a_user_and_the_history_names_the_execution(world):
    execution = bare_execution(world.tenant)
    record = CreateRecord(world.tenant, None, "lead", {"email": "ada@example.com"}, execution=execution).execute()
    change = record.changes.get()
    assert change.actor is None and change.execution == execution and record.created_by is None


def test_an_execution_of_another_tenant_is_refused(world):
    foreign = bare_execution(world.other_tenant)
    with pytest.raises(PermissionDenied):
        CreateRecord(world.tenant, None, "lead", {"email": "ada@example.com"}, execution=foreign).execute()
    assert not Record.objects.exists()


def test_invalid_data_saves_nothing(world):
    with pytest.raises(ValidationError) as exc:
        CreateRecord(world.tenant, world.editor, "lead", {"email": "nope", "status": "hot"}).execute()
    assert set(exc.value.message_dict) == {"email", "status"}
    assert not Record.objects.exists() and not RecordChange.objects.exists()


def test_an_unknown_object_type_is_named(world):
    with pytest.raises(ValidationError) as exc:
        CreateRecord(world.tenant, world.editor, "unicorn", {"name": "x"}).execute()
    assert "Unknown object type 'unicorn'" in exc.value.message_dict["object_type"][0]


def test_update_merges_the_changes_validates_the_whole_and_records_the_diff(world):
    record = lead(world, first_name="Ada", company="Analytical")
    updated = UpdateRecord(world.tenant, world.admin, record, {"company": "", "score": 90, "status": "working"}).execute()
    assert updated.data == {"email": "ada@example.com", "first_name": "Ada", "score": 90, "status": "working"}
    assert record.data == updated.data  # the caller's instance is refreshed too
    change = record.changes.filter(operation="updated").get()
    assert change.changes == {"company": ["Analytical", None], "score": [None, 90], "status": ["new", "working"]}
    assert change.actor == world.admin
    record.refresh_from_db()
    assert record.updated_by == world.admin


def test_an_update_that_breaks_validation_leaves_the_record_untouched(world):
    record = lead(world, score=10)
    with pytest.raises(ValidationError) as exc:
        UpdateRecord(world.tenant, world.editor, record, {"score": 1000, "email": None}).execute()
    assert set(exc.value.message_dict) == {"score", "email"}
    record.refresh_from_db()
    assert record.data["score"] == 10 and record.changes.count() == 1


def test_a_no_op_update_writes_no_history_and_fires_nothing(world, django_capture_on_commit_callbacks):
    record = lead(world, score=10)
    with django_capture_on_commit_callbacks() as callbacks:
        UpdateRecord(world.tenant, world.editor, record, {"score": "10", "status": "new"}).execute()
    assert callbacks == []
    assert record.changes.count() == 1


def test_records_of_another_tenant_cannot_be_updated_or_deleted(world):
    theirs = CreateRecord(world.other_tenant, world.outsider, "lead", {"email": "theirs@example.com"}).execute()
    with pytest.raises(Record.DoesNotExist):
        UpdateRecord(world.tenant, world.owner, theirs, {"score": 1}).execute()
    with pytest.raises(Record.DoesNotExist):
        UpdateRecord(world.tenant, None, theirs, {"score": 1}, execution=bare_execution(world.tenant)).execute()
    with pytest.raises(Record.DoesNotExist):
        DeleteRecord(world.tenant, world.owner, theirs).execute()
    theirs.refresh_from_db()
    assert theirs.data == {"email": "theirs@example.com", "status": "new"} and theirs.changes.count() == 1


def test_delete_removes_the_record_and_announces_its_last_data(world, django_capture_on_commit_callbacks):
    record = lead(world, first_name="Ada")
    with django_capture_on_commit_callbacks(execute=True):
        assert DeleteRecord(world.tenant, world.editor, record).execute() == record.pk
    assert not Record.objects.filter(pk=record.pk).exists()
    event = Event.objects.for_tenant(world.tenant).get(name="lead.deleted")
    assert event.payload["old"] == {"email": "ada@example.com", "first_name": "Ada", "status": "new"}


def test_writes_announce_record_changes_after_commit(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record = lead(world, score=10)
    with django_capture_on_commit_callbacks(execute=True):
        UpdateRecord(world.tenant, world.editor, record, {"score": 55}).execute()
    created = Event.objects.for_tenant(world.tenant).get(name="lead.created")
    assert created.payload["record"]["id"] == record.pk and created.payload["operation"] == "created"
    updated = Event.objects.for_tenant(world.tenant).get(name="lead.updated")
    assert updated.payload["changes"] == {"score": [10, 55]}
    assert not Event.objects.for_tenant(world.other_tenant).exists()


def test_nothing_is_announced_when_the_transaction_rolls_back(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError):
        CreateRecord(world.tenant, world.editor, "lead", {"email": "bad"}).execute()
    assert callbacks == []


# -- references ---------------------------------------------------------------------------------


def test_a_reference_must_name_a_record_of_the_right_type_in_the_same_tenant(world):
    account = CreateRecord(world.tenant, world.editor, "account", {"name": "Acme"}).execute()
    contact = CreateRecord(world.tenant, world.editor, "contact", {"last_name": "B", "account_id": account.pk}).execute()
    assert contact.data["account_id"] == account.pk
    a_lead = lead(world)
    foreign_account = CreateRecord(world.other_tenant, world.outsider, "account", {"name": "Globex"}).execute()
    for bad in (a_lead.pk, foreign_account.pk, 999_999):
        with pytest.raises(ValidationError) as exc:
            CreateRecord(world.tenant, world.editor, "contact", {"last_name": "C", "account_id": bad}).execute()
        assert f"there is no account record with id {bad}" in exc.value.message_dict["account_id"][0]
    # "*" references take any type, still only in this tenant.
    assert CreateRecord(world.tenant, world.editor, "task", {"subject": "Call", "related_to": a_lead.pk}).execute().data["related_to"] == a_lead.pk
    with pytest.raises(ValidationError):
        CreateRecord(world.tenant, world.editor, "task", {"subject": "Call", "related_to": foreign_account.pk}).execute()


# -- upsert -------------------------------------------------------------------------------------


def test_upsert_creates_then_updates_the_matching_record(world):
    record, created = UpsertRecord(world.tenant, world.editor, "lead", ["email"], {"email": "ada@example.com", "score": 10}).execute()
    assert created and record.data["score"] == 10
    again, created = UpsertRecord(world.tenant, world.editor, "lead", ["email"], {"email": "ada@example.com", "score": "20"}).execute()
    assert not created and again.pk == record.pk and again.data == {"email": "ada@example.com", "score": 20, "status": "new"}
    assert [c.operation for c in record.changes.order_by("pk")] == ["created", "updated"]


def test_upsert_matches_only_within_the_tenant_and_type(world):
    CreateRecord(world.other_tenant, world.outsider, "lead", {"email": "ada@example.com"}).execute()
    CreateRecord(world.tenant, world.editor, "contact", {"last_name": "L", "email": "ada@example.com"}).execute()
    _record, created = UpsertRecord(world.tenant, world.editor, "lead", ["email"], {"email": "ada@example.com"}).execute()
    assert created


def test_upsert_on_several_fields_and_numbers(world):
    UpsertRecord(world.tenant, world.editor, "opportunity", ["name", "amount"], {"name": "Deal", "amount": 100}).execute()
    _record, created = UpsertRecord(world.tenant, world.editor, "opportunity", ["name", "amount"], {"name": "Deal", "amount": "100.0"}).execute()
    assert not created
    _record, created = UpsertRecord(world.tenant, world.editor, "opportunity", ["name", "amount"], {"name": "Deal", "amount": 200}).execute()
    assert created


def test_upsert_refuses_an_ambiguous_match(world):
    lead(world, first_name="One")
    lead(world, first_name="Two")
    with pytest.raises(ValidationError) as exc:
        UpsertRecord(world.tenant, world.editor, "lead", ["email"], {"email": "ada@example.com", "score": 1}).execute()
    assert "more than one lead matches email='ada@example.com'" in exc.value.message_dict["email"][0]


@pytest.mark.parametrize(
    ("match", "data", "field", "fragment"),
    [
        (["email"], {"first_name": "Ada"}, "email", "needs a value to match on"),
        (["colour"], {"email": "a@example.com"}, "colour", "Unknown field 'colour'"),
        ([], {"email": "a@example.com"}, "match_on", "Give the list"),
    ],
)
def test_upsert_needs_known_match_fields_with_values(world, match, data, field, fragment):
    with pytest.raises(ValidationError) as exc:
        UpsertRecord(world.tenant, world.editor, "lead", match, data).execute()
    assert fragment in exc.value.message_dict[field][0]


# -- custom types --------------------------------------------------------------------------------


def test_only_admins_define_custom_types_and_records_of_them_validate(world):
    fields = [{"name": "plan", "type": "choice", "choices": ["free", "pro"], "default": "free"}, {"name": "seats", "type": "integer", "min": 1}]
    with pytest.raises(PermissionDenied):
        DefineObjectType(world.tenant, world.editor, "subscription", "Subscription", fields).execute()
    with pytest.raises(ValidationError) as exc:
        DefineObjectType(world.tenant, world.admin, "lead", "Lead", fields).execute()
    assert "built-in" in exc.value.message_dict["slug"][0]
    with pytest.raises(ValidationError):
        DefineObjectType(world.tenant, world.admin, "subscription", "Subscription", [{"name": "plan", "type": "choice"}]).execute()
    DefineObjectType(world.tenant, world.admin, "subscription", "Subscription", fields).execute()
    record = CreateRecord(world.tenant, world.editor, "subscription", {"seats": 3}).execute()
    assert record.data == {"plan": "free", "seats": 3}
    with pytest.raises(ValidationError):
        CreateRecord(world.tenant, world.editor, "subscription", {"seats": 0}).execute()
    # The other tenant does not have the type at all.
    with pytest.raises(ValidationError):
        CreateRecord(world.other_tenant, world.outsider, "subscription", {"seats": 3}).execute()


def test_fields_removed_from_a_custom_type_do_not_block_updates(world):
    row = ObjectType.objects.create(tenant=world.tenant, slug="thing", label="Thing", fields=[{"name": "a", "type": "string"}, {"name": "b", "type": "string"}])
    record = CreateRecord(world.tenant, world.editor, "thing", {"a": "1", "b": "2"}).execute()
    row.fields = [{"name": "a", "type": "string"}]
    row.save()
    UpdateRecord(world.tenant, world.editor, record, {"a": "3"}).execute()
    record.refresh_from_db()
    assert record.data == {"a": "3"}
    assert record.changes.filter(operation="updated").get().changes == {"a": ["1", "3"], "b": ["2", None]}


# -- before-save circuits (through the real engine) ------------------------------------------------


def _before_save_circuit(world, slug: str, nodes: list[dict], object_type: str = "lead") -> None:
    from tests.engine.helpers import build, chain

    build(world, slug, nodes, chain(*[n["key"] for n in nodes]), triggers=[{"type": "before_save", "config": {"object_type": object_type}}])


def test_a_before_save_circuit_can_change_the_data_before_it_is_validated_and_saved(world):
    from tests.engine.helpers import node

    fields = {"title": "VIP {{ trigger.record.first_name }}", "score": "75"}
    _before_save_circuit(world, "enrich", [node("set", "control.set_record_fields", {"fields": fields})])
    record = lead(world, first_name="Ada")
    record.refresh_from_db()
    assert record.data["title"] == "VIP Ada" and record.data["score"] == 75
    assert record.changes.get().changes["title"] == [None, "VIP Ada"]


def test_a_before_save_circuit_that_rejects_saves_nothing(world):
    from tests.engine.helpers import node

    _before_save_circuit(world, "guard", [node("no", "control.reject_save", {"message": "Tasks are frozen this week."})], object_type="task")
    with pytest.raises(ValidationError) as exc:
        CreateRecord(world.tenant, world.editor, "task", {"subject": "Call"}).execute()
    assert exc.value.messages == ["Tasks are frozen this week."]
    assert not Record.objects.filter(object_type="task").exists()


def test_data_set_by_a_before_save_circuit_is_still_validated(world):
    from tests.engine.helpers import node

    _before_save_circuit(world, "bad-enrich", [node("set", "control.set_record_fields", {"fields": {"status": "hot"}})])
    with pytest.raises(ValidationError) as exc:
        lead(world)
    assert "status" in exc.value.message_dict
    assert not Record.objects.exists()


def test_a_no_op_update_does_not_run_before_save_circuits(world):
    from circuits.automation.models.execution import Execution
    from tests.engine.helpers import node

    record = lead(world, score=5)
    _before_save_circuit(world, "watch", [node("set", "control.set_record_fields", {"fields": {"title": "seen"}})])
    UpdateRecord(world.tenant, world.editor, record, {"score": 5}).execute()
    assert not Execution.objects.exists()
    UpdateRecord(world.tenant, world.editor, record, {"score": 6}).execute()
    record.refresh_from_db()
    assert record.data["title"] == "seen" and Execution.objects.count() == 1


def test_upsert_matches_fields_named_like_lookups(world):
    ObjectType.objects.create(tenant=world.tenant, slug="odd", label="Odd", fields=[{"name": "in", "type": "string"}, {"name": "n", "type": "integer"}])
    UpsertRecord(world.tenant, world.editor, "odd", ["in"], {"in": "key", "n": 1}).execute()
    record, created = UpsertRecord(world.tenant, world.editor, "odd", ["in"], {"in": "key", "n": 2}).execute()
    assert not created and record.data == {"in": "key", "n": 2}


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_roles_without_edit_cannot_update_or_delete(world, role):
    record = lead(world, score=1)
    with pytest.raises(PermissionDenied):
        UpdateRecord(world.tenant, world.user(role), record, {"score": 2}).execute()
    with pytest.raises(PermissionDenied):
        DeleteRecord(world.tenant, world.user(role), record).execute()
    record.refresh_from_db()
    assert record.data["score"] == 1


@pytest.mark.django_db
def test_deleting_a_record_keeps_its_history_with_a_deleted_row(world):
    from circuits.records.models import RecordChange
    from circuits.records.service import CreateRecord, DeleteRecord

    record = CreateRecord(world.tenant, world.editor, "lead", {"email": "gone@example.test", "last_name": "Gone"}).execute()
    record_id = record.pk
    DeleteRecord(world.tenant, world.owner, record).execute()
    history = list(RecordChange.objects.filter(tenant=world.tenant, record_key=record_id).order_by("pk"))
    assert [h.operation for h in history] == ["created", "deleted"]
    assert history[-1].changes["email"] == ["gone@example.test", None]
    assert history[-1].actor == world.owner and history[-1].object_type == "lead" and history[-1].record is None
