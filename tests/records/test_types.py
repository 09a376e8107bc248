"""Object types: built-in definitions, custom definitions, and record validation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from circuits.records.models import ObjectType
from circuits.records.types import BUILTIN_TYPES, get_type, list_types, validate_object_type_definition

VALID = {
    "lead": {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "company": "Analytical",
        "title": "CTO",
        "phone": "+44 20 1234",
        "status": "working",
        "source": "web",
        "score": 87.5,
        "owner": "editor-a",
    },
    "account": {"name": "Acme", "industry": "Tools", "website": "https://acme.example.com/", "employees": 120, "annual_revenue": 1.5e6, "tier": "gold"},
    "contact": {"first_name": "Bob", "last_name": "Builder", "email": "bob@example.com", "phone": "555", "account_id": 7},
    "opportunity": {"name": "Big deal", "account_id": 7, "amount": 5000, "stage": "proposal", "close_date": "2025-06-30", "probability": 60},
    "task": {"subject": "Call Ada", "status": "done", "due_date": "2025-01-31", "related_to": 3, "assigned_to": "editor-a"},
}


def errors_of(exc: pytest.ExceptionInfo) -> dict[str, list[str]]:
    return exc.value.message_dict


@pytest.mark.parametrize("slug", sorted(VALID))
def test_every_builtin_type_accepts_a_complete_valid_record(slug):
    assert BUILTIN_TYPES[slug].clean(VALID[slug]) == VALID[slug]


def test_the_builtin_types_are_the_five_documented_ones():
    assert set(BUILTIN_TYPES) == {"lead", "account", "contact", "opportunity", "task"}


@pytest.mark.parametrize(
    ("slug", "data", "field", "fragment"),
    [
        ("lead", {"email": "not-an-email"}, "email", "valid e-mail"),
        ("lead", {"email": "a@b@c.com"}, "email", "valid e-mail"),
        ("lead", {"email": "ada@example.com", "status": "hot"}, "status", "is not one of: new, working"),
        ("lead", {"email": "ada@example.com", "score": 101}, "score", "above the maximum 100"),
        ("lead", {"email": "ada@example.com", "score": -1}, "score", "below the minimum 0"),
        ("lead", {"email": "ada@example.com", "score": "lots"}, "score", "is not a number"),
        ("lead", {"first_name": "Ada"}, "email", "is required"),
        ("account", {"industry": "x"}, "name", "is required"),
        ("account", {"name": "A", "website": "ftp://files.example.com"}, "website", "http(s) URL"),
        ("account", {"name": "A", "website": "not a url"}, "website", "http(s) URL"),
        ("account", {"name": "A", "employees": 3.5}, "employees", "whole number"),
        ("contact", {"first_name": "Bob"}, "last_name", "is required"),
        ("contact", {"last_name": "B", "email": "nope"}, "email", "valid e-mail"),
        ("opportunity", {"name": "D", "amount": -5}, "amount", "below the minimum 0"),
        ("opportunity", {"name": "D", "stage": "won"}, "stage", "is not one of"),
        ("opportunity", {"name": "D", "close_date": "2025-13-01"}, "close_date", "a date (YYYY-MM-DD)"),
        ("opportunity", {"name": "D", "close_date": "30/06/2025"}, "close_date", "a date (YYYY-MM-DD)"),
        ("opportunity", {"name": "D", "close_date": "20250630"}, "close_date", "a date (YYYY-MM-DD)"),
        ("opportunity", {"name": "D", "probability": 101}, "probability", "above the maximum 100"),
        ("task", {"status": "open"}, "subject", "is required"),
        ("task", {"subject": "S", "status": "later"}, "status", "is not one of: open, done"),
        ("task", {"subject": "S", "due_date": "tomorrow"}, "due_date", "a date"),
    ],
)
def test_invalid_values_are_rejected_naming_the_field(slug, data, field, fragment):
    with pytest.raises(ValidationError) as exc:
        BUILTIN_TYPES[slug].clean(data)
    messages = errors_of(exc)
    assert field in messages, messages
    assert any(fragment in m for m in messages[field]), messages


def test_unknown_fields_are_rejected_by_name():
    with pytest.raises(ValidationError) as exc:
        BUILTIN_TYPES["lead"].clean({"email": "ada@example.com", "favourite_colour": "blue", "shoe_size": 9})
    messages = errors_of(exc)
    assert set(messages) == {"favourite_colour", "shoe_size"}
    assert "Unknown field 'favourite_colour' on lead" in messages["favourite_colour"][0]


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(ValidationError) as exc:
        BUILTIN_TYPES["lead"].clean({"email": "x", "status": "hot", "score": 500})
    assert set(errors_of(exc)) == {"email", "status", "score"}


def test_defaults_are_applied_and_blank_values_dropped():
    assert BUILTIN_TYPES["lead"].clean({"email": "ada@example.com", "company": ""}) == {"email": "ada@example.com", "status": "new"}
    assert BUILTIN_TYPES["opportunity"].clean({"name": "D"})["stage"] == "prospecting"
    assert BUILTIN_TYPES["task"].clean({"subject": "S"})["status"] == "open"


def test_values_from_templates_are_coerced_to_the_field_type():
    cleaned = BUILTIN_TYPES["opportunity"].clean({"name": "D", "amount": "1250.50", "probability": "40", "account_id": "3"})
    assert cleaned["amount"] == 1250.5 and cleaned["probability"] == 40 and cleaned["account_id"] == 3
    assert BUILTIN_TYPES["lead"].clean({"email": " ada@example.com ", "phone": 5551234})["phone"] == "5551234"


def test_non_finite_numbers_are_rejected():
    with pytest.raises(ValidationError) as exc:
        BUILTIN_TYPES["account"].clean({"name": "A", "annual_revenue": float("inf")})
    assert "annual_revenue" in errors_of(exc)


def test_booleans_are_not_numbers():
    with pytest.raises(ValidationError) as exc:
        BUILTIN_TYPES["lead"].clean({"email": "ada@example.com", "score": True})
    assert "score" in errors_of(exc)


# -- custom types ---------------------------------------------------------------------------

PLAN_FIELDS = [
    {"name": "plan", "type": "choice", "choices": ["free", "pro"], "required": True, "default": "free"},
    {"name": "seats", "type": "integer", "min": 1, "max": 500},
    {"name": "renews_at", "type": "datetime"},
    {"name": "active", "type": "boolean", "default": True},
    {"name": "notes", "type": "text", "max": 20},
    {"name": "account_id", "type": "integer", "ref": "account"},
]


def test_a_valid_custom_definition_passes():
    validate_object_type_definition(PLAN_FIELDS)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ([], "should be non-empty"),
        ("plan", "is not of type 'array'"),
        ([{"name": "plan", "type": "choice"}], "a choice field needs a list of choices"),
        ([{"name": "plan", "type": "string", "choices": ["a"]}], "only choice fields have choices"),
        ([{"name": "a", "type": "string"}, {"name": "a", "type": "integer"}], "used twice"),
        ([{"name": "id", "type": "integer"}], "'id' is reserved"),
        ([{"name": "created_at", "type": "datetime"}], "is reserved"),
        ([{"name": "Bad Name", "type": "string"}], "does not match"),
        ([{"name": "x", "type": "money"}], "is not one of"),
        ([{"name": "x", "type": "integer", "min": 5, "max": 1}], "min (5) is greater than max (1)"),
        ([{"name": "x", "type": "boolean", "min": 0}], "min applies only to"),
        ([{"name": "x", "type": "string", "ref": "account"}], "ref applies only to integer"),
        ([{"name": "x", "type": "integer", "default": "many"}], "the default 'many' is not a valid integer"),
        ([{"name": "x", "type": "choice", "choices": ["a"], "default": "b"}], "the default 'b'"),
        ([{"name": "x", "type": "email", "default": "nope"}], "the default 'nope'"),
        ([{"name": "x", "type": "string", "colour": "red"}], "Additional properties"),
    ],
)
def test_bad_custom_definitions_are_rejected_with_the_reason(fields, fragment):
    with pytest.raises(ValidationError) as exc:
        validate_object_type_definition(fields)
    assert any(fragment in m for m in errors_of(exc)["fields"]), errors_of(exc)


@pytest.mark.django_db
def test_a_custom_type_validates_its_records(world):
    ObjectType.objects.create(tenant=world.tenant, slug="subscription", label="Subscription", fields=PLAN_FIELDS)
    subscription = get_type(world.tenant, "subscription")
    assert not subscription.builtin
    cleaned = subscription.clean({"seats": "12", "renews_at": "2025-03-01T10:00:00+02:00"})
    assert cleaned == {"plan": "free", "seats": 12, "renews_at": "2025-03-01T08:00:00Z", "active": True}
    with pytest.raises(ValidationError) as exc:
        subscription.clean({"plan": "gold", "seats": 0, "renews_at": "soon", "notes": "x" * 21, "colour": "red"})
    assert set(errors_of(exc)) == {"colour"}  # unknown fields are refused before anything else
    with pytest.raises(ValidationError) as exc:
        subscription.clean({"plan": "gold", "seats": 0, "renews_at": "soon", "notes": "x" * 21})
    assert set(errors_of(exc)) == {"plan", "seats", "renews_at", "notes"}


@pytest.mark.django_db
def test_get_type_names_an_unknown_type_and_never_sees_another_tenants_types(world):
    ObjectType.objects.create(tenant=world.other_tenant, slug="secret", label="Secret", fields=[{"name": "x", "type": "string"}])
    with pytest.raises(ValidationError) as exc:
        get_type(world.tenant, "secret")
    assert "Unknown object type 'secret'" in errors_of(exc)["object_type"][0]
    assert "secret" not in [t.slug for t in list_types(world.tenant)]
    assert get_type(world.other_tenant, "secret").field_names == ["x"]


@pytest.mark.django_db
def test_list_types_gives_builtins_then_the_tenants_custom_types(world):
    ObjectType.objects.create(tenant=world.tenant, slug="subscription", label="Subscription", fields=PLAN_FIELDS)
    # A custom row cannot shadow a built-in type, and a broken definition is left out.
    ObjectType.objects.create(tenant=world.tenant, slug="lead", label="Fake lead", fields=[{"name": "x", "type": "string"}])
    ObjectType.objects.create(tenant=world.tenant, slug="broken", label="Broken", fields=[{"name": "x", "type": "nope"}])
    assert [t.slug for t in list_types(world.tenant)] == ["lead", "account", "contact", "opportunity", "task", "subscription"]
    assert get_type(world.tenant, "lead").builtin
    with pytest.raises(ValidationError) as exc:
        get_type(world.tenant, "broken")
    assert "definition of object type 'broken' is invalid" in errors_of(exc)["object_type"][0]


@pytest.mark.django_db
def test_an_edited_custom_type_is_picked_up_at_once(world):
    row = ObjectType.objects.create(tenant=world.tenant, slug="thing", label="Thing", fields=[{"name": "a", "type": "string"}])
    assert get_type(world.tenant, "thing").field_names == ["a"]
    row.fields = [{"name": "a", "type": "string"}, {"name": "b", "type": "integer"}]
    row.save()
    assert get_type(world.tenant, "thing").field_names == ["a", "b"]
