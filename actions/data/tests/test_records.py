"""The data.* actions against the real record store: happy paths, bad configs, failures, tenancy."""

from __future__ import annotations

import pytest

from actions.sdk import ActionError, registry
from circuits.automation.models.execution import ExecutionStatus
from circuits.records.models import Record, RecordChange
from circuits.records.service import CreateRecord
from tests.engine.helpers import build, chain, node
from tests.engine.helpers import run as run_circuit
from tests.records.helpers import bare_execution, context

pytestmark = pytest.mark.django_db


def action(name: str):
    cls = registry.get(name)
    assert cls is not None, name
    return cls


def run(world, name: str, config: dict, tenant=None, execution=None):
    cls = action(name)
    assert cls.validate_config(config) == [], cls.validate_config(config)
    return cls().run(context(tenant or world.tenant, execution), config)


def make(tenant, object_type: str = "lead", **data) -> Record:
    return CreateRecord(tenant, None, object_type, data).execute()


# -- data.get_record -----------------------------------------------------------------------------


def test_get_record_reads_the_record_as_it_is_now(world):
    lead = make(world.tenant, email="ada@example.com", score=10)
    Record.objects.filter(pk=lead.pk).update(data={**lead.data, "score": 70})  # changed since a trigger copied it
    out = run(world, "data.get_record", {"object_type": "lead", "record_id": str(lead.pk)})
    assert out["id"] == lead.pk and out["email"] == "ada@example.com" and out["score"] == 70
    assert action("data.get_record").side_effects is False


def test_get_record_of_another_tenant_or_type_is_not_found(world):
    theirs = make(world.other_tenant, email="theirs@example.com")
    ours = make(world.tenant, email="ours@example.com")
    with pytest.raises(ActionError, match=f"lead record {theirs.pk} not found"):
        run(world, "data.get_record", {"object_type": "lead", "record_id": theirs.pk})
    with pytest.raises(ActionError, match=f"account record {ours.pk} not found"):
        run(world, "data.get_record", {"object_type": "account", "record_id": ours.pk})


@pytest.mark.parametrize(
    ("config", "fragment"),
    [({"object_type": "lead"}, "'record_id' is a required property"), ({"object_type": "lead", "record_id": "1; drop"}, "record_id")],
)
def test_get_record_rejects_bad_config(config, fragment):
    errors = action("data.get_record").validate_config(config)
    assert any(fragment in e for e in errors), errors


# -- data.get_records ----------------------------------------------------------------------------


def test_get_records_finds_filtered_sorted_records_with_their_fields(world):
    for i, score in enumerate((30, 80, 95)):
        make(world.tenant, email=f"lead{i}@example.com", score=score)
    make(world.other_tenant, email="theirs@example.com", score=99)
    out = run(world, "data.get_records", {"object_type": "lead", "filters": [{"field": "score", "op": "gte", "value": 50}], "order_by": "-score"})
    assert out["count"] == 2 and out["total"] == 2
    first = out["records"][0]
    assert first["score"] == 95 and first["email"] == "lead2@example.com" and first["object_type"] == "lead"
    assert isinstance(first["id"], int) and first["created_at"] and first["updated_at"]
    assert action("data.get_records").side_effects is False


def test_get_records_pages_with_limit_and_offset(world):
    for i in range(5):
        make(world.tenant, email=f"l{i}@example.com", score=i)
    out = run(world, "data.get_records", {"object_type": "lead", "order_by": "score", "limit": 2, "offset": 2})
    assert [r["score"] for r in out["records"]] == [2, 3] and out["count"] == 2 and out["total"] == 5


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({}, "'object_type' is a required property"),
        ({"object_type": "lead", "limit": 5000}, "limit: 5000 is greater than the maximum of 1000"),
        ({"object_type": "lead", "filters": [{"field": "score", "op": "like", "value": 1}]}, "filters.0.op"),
        ({"object_type": "lead", "filters": [{"field": "status", "op": "in", "value": "new"}]}, "filters.0.value: 'in' needs a list"),
        ({"object_type": "lead", "filters": [{"field": "score", "op": "gt"}]}, "filters.0.value: 'gt' needs a value"),
        ({"object_type": "lead", "order_by": "score desc"}, "order_by"),
        ({"object_type": "lead", "colour": "red"}, "Additional properties"),
    ],
)
def test_get_records_rejects_bad_config(config, fragment):
    errors = action("data.get_records").validate_config(config)
    assert any(fragment in e for e in errors), errors


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"object_type": "lead", "filters": [{"field": "colour", "op": "eq", "value": "red"}]}, "Unknown field 'colour' on lead"),
        ({"object_type": "lead", "filters": [{"field": "score", "op": "gt", "value": "high"}]}, "score: cannot compare with 'high'"),
        ({"object_type": "unicorn"}, "Unknown object type 'unicorn'"),
    ],
)
def test_get_records_fails_with_the_field_named(world, config, fragment):
    with pytest.raises(ActionError, match="Cannot query") as exc:
        run(world, "data.get_records", config)
    assert fragment in str(exc.value)


def test_get_records_costs_the_same_few_queries_for_many_records(world, django_assert_max_num_queries):
    account = make(world.tenant, "account", name="Acme")
    for i in range(60):
        make(world.tenant, "contact", last_name=f"C{i}", account_id=account.pk)
    with django_assert_max_num_queries(2):
        out = run(world, "data.get_records", {"object_type": "contact", "limit": 50})
    assert out["count"] == 50 and out["total"] == 60
    with django_assert_max_num_queries(1):
        out = run(world, "data.get_records", {"object_type": "contact", "limit": 1000})
    assert out["count"] == 60


# -- data.create_record --------------------------------------------------------------------------


def test_create_record_saves_a_valid_record_and_links_the_execution(world):
    execution = bare_execution(world.tenant)
    out = run(world, "data.create_record", {"object_type": "lead", "fields": {"email": "ada@example.com", "score": "70"}}, execution=execution)
    assert out["email"] == "ada@example.com" and out["score"] == 70 and out["status"] == "new"
    record = Record.objects.for_tenant(world.tenant).get(pk=out["id"])
    assert record.changes.get().execution == execution


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"object_type": "lead"}, "'fields' is a required property"),
        ({"object_type": "lead", "fields": ["email"]}, "fields: ['email'] is not of type 'object'"),
        ({"object_type": "Lead!", "fields": {}}, "object_type"),
    ],
)
def test_create_record_rejects_bad_config(config, fragment):
    errors = action("data.create_record").validate_config(config)
    assert any(fragment in e for e in errors), errors


def test_create_record_fails_naming_each_bad_field_and_saves_nothing(world):
    with pytest.raises(ActionError) as exc:
        run(world, "data.create_record", {"object_type": "lead", "fields": {"email": "nope", "status": "hot", "shoe": 9}})
    assert "Invalid lead" in str(exc.value) and "shoe" in str(exc.value)
    with pytest.raises(ActionError) as exc:
        run(world, "data.create_record", {"object_type": "lead", "fields": {"email": "nope", "status": "hot"}})
    assert "email:" in str(exc.value) and "status:" in str(exc.value)
    assert not Record.objects.exists()


# -- data.update_record --------------------------------------------------------------------------


def test_update_record_changes_only_the_given_fields(world):
    record = make(world.tenant, email="ada@example.com", first_name="Ada", score=10)
    out = run(world, "data.update_record", {"object_type": "lead", "record_id": str(record.pk), "fields": {"score": 90, "first_name": ""}})
    assert out["id"] == record.pk and out["score"] == 90 and "first_name" not in out and out["email"] == "ada@example.com"
    assert record.changes.filter(operation="updated").get().changes == {"first_name": ["Ada", None], "score": [10, 90]}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"object_type": "lead", "record_id": "abc", "fields": {"score": 1}}, "record_id"),
        ({"object_type": "lead", "record_id": 0, "fields": {"score": 1}}, "record_id"),
        ({"object_type": "lead", "record_id": 1, "fields": {}}, "fields"),
        ({"object_type": "lead", "fields": {"score": 1}}, "'record_id' is a required property"),
    ],
)
def test_update_record_rejects_bad_config(config, fragment):
    errors = action("data.update_record").validate_config(config)
    assert any(fragment in e for e in errors), errors


def test_update_record_fails_for_a_missing_record_or_bad_values(world):
    record = make(world.tenant, email="ada@example.com")
    with pytest.raises(ActionError, match=f"lead record {record.pk + 100} not found"):
        run(world, "data.update_record", {"object_type": "lead", "record_id": record.pk + 100, "fields": {"score": 1}})
    with pytest.raises(ActionError, match=f"account record {record.pk} not found"):
        run(world, "data.update_record", {"object_type": "account", "record_id": record.pk, "fields": {"name": "x"}})
    with pytest.raises(ActionError, match="score: 500 is above the maximum 100"):
        run(world, "data.update_record", {"object_type": "lead", "record_id": record.pk, "fields": {"score": 500}})
    record.refresh_from_db()
    assert "score" not in record.data


def test_another_tenants_record_id_is_not_found_and_left_untouched(world):
    theirs = make(world.other_tenant, email="theirs@example.com", score=5)
    for name, config in [
        ("data.update_record", {"object_type": "lead", "record_id": theirs.pk, "fields": {"score": 6}}),
        ("data.delete_record", {"object_type": "lead", "record_id": theirs.pk}),
    ]:
        with pytest.raises(ActionError, match=f"lead record {theirs.pk} not found"):
            run(world, name, config)
    out = run(world, "data.upsert_record", {"object_type": "lead", "match_on": ["email"], "fields": {"email": "theirs@example.com", "score": 7}})
    assert out["created"] and out["record"]["id"] != theirs.pk
    assert run(world, "data.get_records", {"object_type": "lead", "filters": [{"field": "id", "op": "eq", "value": theirs.pk}]})["count"] == 0
    theirs.refresh_from_db()
    assert theirs.data["score"] == 5 and theirs.changes.count() == 1


# -- data.delete_record --------------------------------------------------------------------------


def test_delete_record_deletes_and_reports_the_id(world):
    record = make(world.tenant, "task", subject="Call")
    assert run(world, "data.delete_record", {"object_type": "task", "record_id": record.pk}) == {"deleted": True, "id": record.pk}
    assert not Record.objects.filter(pk=record.pk).exists()
    # A retry after the record is gone: an error by default, or a quiet "not deleted".
    with pytest.raises(ActionError, match="not found"):
        run(world, "data.delete_record", {"object_type": "task", "record_id": record.pk})
    out = run(world, "data.delete_record", {"object_type": "task", "record_id": record.pk, "if_missing": "ignore"})
    assert out == {"deleted": False, "id": record.pk}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"object_type": "task"}, "'record_id' is a required property"),
        ({"object_type": "task", "record_id": 1, "if_missing": "shrug"}, "if_missing"),
        ({"object_type": "task", "record_id": True}, "record_id"),
    ],
)
def test_delete_record_rejects_bad_config(config, fragment):
    errors = action("data.delete_record").validate_config(config)
    assert any(fragment in e for e in errors), errors


def test_delete_record_fails_for_an_unknown_type_even_when_ignoring_missing_records(world):
    with pytest.raises(ActionError, match="Unknown object type 'unicorn'"):
        run(world, "data.delete_record", {"object_type": "unicorn", "record_id": 1, "if_missing": "ignore"})


# -- data.upsert_record --------------------------------------------------------------------------


def test_upsert_record_creates_then_updates(world):
    config = {"object_type": "lead", "match_on": ["email"], "fields": {"email": "ada@example.com", "score": 10}}
    first = run(world, "data.upsert_record", config)
    assert first["created"] is True and first["record"]["score"] == 10
    config["fields"]["score"] = 20
    second = run(world, "data.upsert_record", config)
    assert second["created"] is False and second["record"]["id"] == first["record"]["id"] and second["record"]["score"] == 20
    assert Record.objects.for_tenant(world.tenant).count() == 1


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"object_type": "lead", "match_on": [], "fields": {"email": "a@example.com"}}, "match_on"),
        ({"object_type": "lead", "match_on": ["email"], "fields": {"score": 1}}, "match_on: 'email' must also be given in fields"),
        ({"object_type": "lead", "match_on": "email", "fields": {"email": "a@example.com"}}, "match_on"),
    ],
)
def test_upsert_record_rejects_bad_config(config, fragment):
    errors = action("data.upsert_record").validate_config(config)
    assert any(fragment in e for e in errors), errors


def test_upsert_record_fails_on_an_ambiguous_match_or_bad_fields(world):
    make(world.tenant, email="dup@example.com", first_name="A")
    make(world.tenant, email="dup@example.com", first_name="B")
    with pytest.raises(ActionError, match="more than one lead matches"):
        run(world, "data.upsert_record", {"object_type": "lead", "match_on": ["email"], "fields": {"email": "dup@example.com"}})
    with pytest.raises(ActionError, match="colour"):
        run(world, "data.upsert_record", {"object_type": "lead", "match_on": ["colour"], "fields": {"colour": "red"}})
    assert RecordChange.objects.count() == 2


# -- in a real circuit ---------------------------------------------------------------------------


def test_a_circuit_upserts_from_its_trigger_payload_and_reads_back(world):
    from circuits.automation.models.execution import ExecutionStatus
    from tests.engine.helpers import build, chain, node
    from tests.engine.helpers import run as run_circuit

    circuit = build(
        world,
        "capture-lead",
        [
            node(
                "save",
                "data.upsert_record",
                {"object_type": "lead", "match_on": ["email"], "fields": {"email": "{{ trigger.email }}", "score": "{{ trigger.score }}"}},
            ),
            node("find", "data.get_records", {"object_type": "lead", "filters": [{"field": "score", "op": "gte", "value": "{{ trigger.score }}"}]}),
        ],
        chain("save", "find"),
    )
    execution = run_circuit(circuit, {"email": "ada@example.com", "score": 88})
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    record = Record.objects.for_tenant(world.tenant).get()
    assert record.data["score"] == 88 and record.changes.get().execution == execution
    assert execution.output["count"] == 1 and execution.output["records"][0]["id"] == record.pk


def test_get_records_refuses_an_equality_filter_whose_template_found_nothing_instead_of_matching_every_record_without_the_field(world):
    # A missing key renders to null (lenient data); `first_name == null` would then find every lead without a first name.
    make(world.tenant, email="ada@example.com", first_name="Ada")
    make(world.tenant, email="nobody@example.com")
    filters = [{"field": "first_name", "op": "eq", "value": "{{ trigger.first_name }}"}]
    circuit = build(world, "find-lead", [node("find", "data.get_records", {"object_type": "lead", "filters": filters})], chain("find"))
    execution = run_circuit(circuit, {"name": "no first name here"})
    assert execution.status == ExecutionStatus.FAILED
    assert "filters.0.value" in execution.error["message"] and "is_null" in execution.error["message"], execution.error
    found = run_circuit(circuit, {"first_name": "Ada"})
    assert found.status == ExecutionStatus.SUCCEEDED and found.output["total"] == 1
    nulls = run(world, "data.get_records", {"object_type": "lead", "filters": [{"field": "first_name", "op": "is_null", "value": True}]})
    assert nulls["total"] == 1  # asking for records without the field says so


def test_update_record_leaves_a_field_whose_template_found_nothing_as_it_is_and_clears_one_given_as_empty(world):
    # A missing key renders to null (lenient data): on update it must not wipe the stored value.
    lead = make(world.tenant, email="ada@example.com", phone="+44 20 7946 0000", company="Analytical Engines")
    fields = {"phone": "{{ trigger.phone }}", "status": "{{ trigger.status }}", "company": "{{ trigger.company }}"}
    touch = node("touch", "data.update_record", {"object_type": "lead", "record_id": "{{ trigger.id }}", "fields": fields})
    circuit = build(world, "touch-lead", [touch], chain("touch"))
    execution = run_circuit(circuit, {"id": lead.pk, "status": "qualified", "company": ""})
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    lead.refresh_from_db()
    assert lead.data["phone"] == "+44 20 7946 0000"  # not in the payload: kept
    assert lead.data["status"] == "qualified"
    assert "company" not in lead.data  # given as empty: cleared
