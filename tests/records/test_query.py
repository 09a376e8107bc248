"""query_records: every filter op, ordering and paging — run on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from circuits.records.models import ObjectType
from circuits.records.query import query_records, record_to_dict
from circuits.records.service import CreateRecord

pytestmark = pytest.mark.django_db

LEADS = [
    {"email": "ada@analytical.example", "first_name": "Ada", "company": "Analytical Engines", "score": 9, "status": "working"},
    {"email": "grace@navy.example", "first_name": "Grace", "company": "US Navy", "score": 10, "status": "qualified"},
    {"email": "alan@bletchley.example", "first_name": "Alan", "company": "bletchley park", "score": 100},
    {"email": "edsger@eindhoven.example", "first_name": "Edsger", "score": 55.5, "status": "disqualified"},
    {"email": "barbara@mit.example", "first_name": "barbara", "company": "MIT"},
]


@pytest.fixture
def leads(world) -> dict[str, int]:
    ids = {}
    for data in LEADS:
        ids[data["first_name"]] = CreateRecord(world.tenant, world.editor, "lead", data).execute().pk
    # Noise that must never show up: another tenant's lead and this tenant's account.
    CreateRecord(world.other_tenant, world.outsider, "lead", {"email": "x@globex.example", "first_name": "Ada", "score": 99}).execute()
    CreateRecord(world.tenant, world.editor, "account", {"name": "Ada Corp"}).execute()
    return ids


def names(world, filters=None, order_by="first_name", **kwargs) -> list[str]:
    return [r.data["first_name"] for r in query_records(world.tenant, "lead", filters or [], order_by, **kwargs).records]


def test_without_filters_it_returns_the_tenants_records_of_that_type_newest_first(world, leads):
    result = query_records(world.tenant, "lead")
    assert [r.pk for r in result.records] == sorted(leads.values(), reverse=True)
    assert result.total == 5


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"field": "first_name", "op": "eq", "value": "Ada"}, ["Ada"]),
        ({"field": "score", "op": "eq", "value": 10}, ["Grace"]),
        ({"field": "score", "op": "eq", "value": "10.0"}, ["Grace"]),
        ({"field": "status", "op": "ne", "value": "new"}, ["Ada", "Edsger", "Grace"]),
        ({"field": "company", "op": "ne", "value": "MIT"}, ["Ada", "Alan", "Edsger", "Grace"]),  # no company counts as "not MIT"
        # Numeric, not text, comparison: "100" < "9" as text.
        ({"field": "score", "op": "gt", "value": 9}, ["Alan", "Edsger", "Grace"]),
        ({"field": "score", "op": "gte", "value": "10"}, ["Alan", "Edsger", "Grace"]),
        ({"field": "score", "op": "lt", "value": 55.5}, ["Ada", "Grace"]),
        ({"field": "score", "op": "lte", "value": 55.5}, ["Ada", "Edsger", "Grace"]),
        ({"field": "company", "op": "contains", "value": "Navy"}, ["Grace"]),
        ({"field": "company", "op": "contains", "value": "navy"}, []),  # case-sensitive on every backend
        ({"field": "company", "op": "icontains", "value": "PARK"}, ["Alan"]),
        ({"field": "company", "op": "startswith", "value": "Analytical"}, ["Ada"]),
        ({"field": "company", "op": "startswith", "value": "Bletchley"}, []),
        ({"field": "first_name", "op": "startswith", "value": "b"}, ["barbara"]),
        ({"field": "company", "op": "contains", "value": "100%"}, []),  # LIKE wildcards are literal
        ({"field": "status", "op": "in", "value": ["working", "qualified"]}, ["Ada", "Grace"]),
        ({"field": "score", "op": "in", "value": [9, "100"]}, ["Ada", "Alan"]),
        ({"field": "score", "op": "in", "value": []}, []),
        ({"field": "company", "op": "is_null", "value": True}, ["Edsger"]),
        ({"field": "company", "op": "is_null", "value": False}, ["Ada", "Alan", "Grace", "barbara"]),
        ({"field": "score", "op": "is_null"}, ["barbara"]),
        ({"field": "score", "op": "eq", "value": None}, ["barbara"]),
        ({"field": "email", "op": "icontains", "value": ".EXAMPLE"}, ["Ada", "Alan", "Edsger", "Grace", "barbara"]),
    ],
)
def test_each_filter_op_runs_in_the_database(world, leads, spec, expected):
    assert sorted(names(world, [spec])) == sorted(expected)


def test_filters_combine_with_and(world, leads):
    filters = [{"field": "score", "op": "gte", "value": 10}, {"field": "status", "op": "ne", "value": "disqualified"}]
    assert names(world, filters) == ["Alan", "Grace"]


def test_ordering_by_a_number_is_numeric_and_missing_values_come_last(world, leads):
    assert names(world, order_by="score") == ["Ada", "Grace", "Edsger", "Alan", "barbara"]
    assert names(world, order_by="-score") == ["Alan", "Edsger", "Grace", "Ada", "barbara"]


def test_ordering_by_columns_and_paging(world, leads):
    by_id = [leads[n] for n in ("Ada", "Grace", "Alan", "Edsger", "barbara")]
    result = query_records(world.tenant, "lead", order_by="id", limit=2, offset=1)
    assert [r.pk for r in result.records] == by_id[1:3] and result.total == 5
    assert [r.pk for r in query_records(world.tenant, "lead", order_by="-created_at", limit=2).records] == by_id[::-1][:2]
    beyond = query_records(world.tenant, "lead", offset=10)
    assert beyond.records == [] and beyond.total == 5


def test_filters_on_id_and_timestamps(world, leads):
    assert names(world, [{"field": "id", "op": "in", "value": [leads["Ada"], str(leads["Alan"])]}]) == ["Ada", "Alan"]
    assert names(world, [{"field": "id", "op": "ne", "value": leads["Ada"]}]) == ["Alan", "Edsger", "Grace", "barbara"]
    assert len(names(world, [{"field": "created_at", "op": "gte", "value": "2000-01-01"}])) == 5
    assert names(world, [{"field": "updated_at", "op": "lt", "value": "2000-01-01T00:00:00Z"}]) == []


def test_dates_and_datetimes_compare_in_time_order(world):
    for name, close, when in [("a", "2025-01-31", "2025-01-31T23:30:00-05:00"), ("b", "2025-02-01", "2025-02-01T03:00:00Z"), ("c", "2024-12-31", None)]:
        CreateRecord(world.tenant, world.editor, "opportunity", {"name": name, "close_date": close}).execute()
        if when:
            ObjectType.objects.get_or_create(tenant=world.tenant, slug="meeting", label="Meeting", fields=[{"name": "at", "type": "datetime"}])
            CreateRecord(world.tenant, world.editor, "meeting", {"at": when}).execute()
    deals = query_records(world.tenant, "opportunity", [{"field": "close_date", "op": "gte", "value": "2025-01-01"}], "close_date").records
    assert [d.data["name"] for d in deals] == ["a", "b"]
    # 23:30 at UTC-5 is 04:30 UTC the next day: later than 03:00Z, whatever the text says.
    meetings = query_records(world.tenant, "meeting", [], "-at").records
    assert [m.data["at"] for m in meetings] == ["2025-02-01T04:30:00Z", "2025-02-01T03:00:00Z"]
    # 04:00 at UTC+1 is exactly 03:00Z.
    later = query_records(world.tenant, "meeting", [{"field": "at", "op": "gte", "value": "2025-02-01T04:00:00+01:00"}], "-at").records
    assert [m.data["at"] for m in later] == ["2025-02-01T04:30:00Z", "2025-02-01T03:00:00Z"]


def test_fields_named_like_lookups_are_just_fields(world):
    fields = [{"name": name, "type": "string"} for name in ("contains", "in", "exact", "isnull", "keys")]
    ObjectType.objects.create(tenant=world.tenant, slug="odd", label="Odd", fields=fields)
    CreateRecord(world.tenant, world.editor, "odd", {"contains": "x", "in": "y", "exact": "z", "keys": "k"}).execute()
    CreateRecord(world.tenant, world.editor, "odd", {"contains": "other"}).execute()
    for name, value in (("contains", "x"), ("in", "y"), ("exact", "z"), ("keys", "k")):
        assert len(query_records(world.tenant, "odd", [{"field": name, "op": "eq", "value": value}], name).records) == 1
    assert len(query_records(world.tenant, "odd", [{"field": "isnull", "op": "is_null", "value": True}]).records) == 2


def test_booleans_filter_on_every_backend(world):
    ObjectType.objects.create(tenant=world.tenant, slug="flag", label="Flag", fields=[{"name": "on", "type": "boolean"}, {"name": "n", "type": "integer"}])
    for i, on in enumerate((True, False, True)):
        CreateRecord(world.tenant, world.editor, "flag", {"on": on, "n": i}).execute()
    assert [r.data["n"] for r in query_records(world.tenant, "flag", [{"field": "on", "op": "eq", "value": True}], "n").records] == [0, 2]
    assert [r.data["n"] for r in query_records(world.tenant, "flag", [{"field": "on", "op": "ne", "value": "true"}], "n").records] == [1]


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"filters": [{"field": "colour", "op": "eq", "value": "red"}]}, "colour", "Unknown field 'colour' on lead"),
        ({"filters": [{"field": "score", "op": "like", "value": 1}]}, "score", "unknown filter op 'like'"),
        ({"filters": [{"field": "score", "op": "gt", "value": "high"}]}, "score", "cannot compare with 'high'"),
        ({"filters": [{"field": "score", "op": "contains", "value": "1"}]}, "score", "contains works on text fields"),
        ({"filters": [{"field": "status", "op": "in", "value": ["hot"]}]}, "status", "expected one of: new"),
        ({"filters": [{"field": "status", "op": "in", "value": "new"}]}, "status", "in needs a list"),
        ({"filters": [{"field": "score", "op": "gt", "value": None}]}, "score", "gt needs a value"),
        ({"filters": [{"field": "company", "op": "is_null", "value": "maybe"}]}, "company", "is_null needs true or false"),
        ({"filters": [{"field": "id", "op": "eq", "value": "abc"}]}, "id", "is not a record id"),
        ({"filters": [{"field": "created_at", "op": "gt", "value": "yesterday"}]}, "created_at", "is not a date"),
        ({"filters": [{"op": "eq"}]}, "filters", "must be an object with a field"),
        ({"filters": {"field": "score"}}, "filters", "must be a list"),
        ({"order_by": "-colour"}, "colour", "Unknown field 'colour'"),
        ({"limit": 1001}, "limit", "from 1 to 1000"),
        ({"limit": 0}, "limit", "from 1 to 1000"),
        ({"offset": -1}, "offset", "≥ 0"),
        ({"object_type": "unicorn"}, "object_type", "Unknown object type 'unicorn'"),
    ],
)
def test_bad_queries_are_refused_naming_the_problem(world, kwargs, field, fragment):
    kwargs = {"object_type": "lead", **kwargs}
    with pytest.raises(ValidationError) as exc:
        query_records(world.tenant, **kwargs)
    assert any(fragment in m for m in exc.value.message_dict[field]), exc.value.message_dict


def test_another_tenants_records_never_match(world, leads):
    assert names(world, [{"field": "score", "op": "eq", "value": 99}]) == []
    assert len(query_records(world.other_tenant, "lead").records) == 1


def test_record_to_dict_has_id_type_fields_and_timestamps(world, leads):
    record = query_records(world.tenant, "lead", [{"field": "first_name", "op": "eq", "value": "Grace"}]).records[0]
    out = record_to_dict(record)
    assert list(out)[:2] == ["id", "object_type"] and list(out)[-2:] == ["created_at", "updated_at"]
    assert out["id"] == leads["Grace"] and out["score"] == 10 and out["object_type"] == "lead"


def test_a_page_costs_at_most_two_queries(world, leads, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        query_records(world.tenant, "lead", [{"field": "score", "op": "gte", "value": 0}], "-score", limit=2)
    with django_assert_max_num_queries(1):
        query_records(world.tenant, "lead", limit=100)  # a short page needs no COUNT


def test_a_datetime_filter_value_is_compared_in_utc(world):
    ObjectType.objects.create(tenant=world.tenant, slug="meeting", label="Meeting", fields=[{"name": "at", "type": "datetime"}])
    CreateRecord(world.tenant, world.editor, "meeting", {"at": "2025-02-01T03:00:00Z"}).execute()
    assert query_records(world.tenant, "meeting", [{"field": "at", "op": "gt", "value": "2025-02-01T04:00:00+01:00"}]).records == []
    assert len(query_records(world.tenant, "meeting", [{"field": "at", "op": "eq", "value": "2025-02-01T04:00:00+01:00"}]).records) == 1
