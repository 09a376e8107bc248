"""Records browser: types, filtered lists, create/edit with per-field errors, delete, history, custom types."""

from __future__ import annotations

import pytest

from circuits.records.models import ObjectType, Record, RecordChange
from circuits.records.service import CreateRecord, DefineObjectType

pytestmark = pytest.mark.django_db
BASE = "/t/acme/records/"


def lead(world, **data) -> Record:
    return CreateRecord(world.tenant, world.owner, "lead", {"email": "x@example.test", **data}).execute()


def test_the_types_page_lists_built_in_and_custom_types_with_counts(client_for, world):
    DefineObjectType(world.tenant, world.owner, "plan", "Plan", [{"name": "title", "type": "string"}]).execute()
    lead(world)
    lead(world, email="y@example.test")
    Record.objects.create(tenant=world.other_tenant, object_type="lead", data={"email": "z@example.test"})
    response = client_for(world.viewer).get(BASE)
    counts = {item["type"].slug: item["count"] for item in response.context["types"]}
    assert counts["lead"] == 2 and counts["account"] == 0 and counts["plan"] == 0
    page = response.content.decode()
    assert "Define an object type" not in page  # viewers cannot define types
    assert "Define an object type" in client_for(world.admin).get(BASE).content.decode()


def test_the_list_filters_with_field_op_value_rows(client_for, world):
    hot = lead(world, email="hot@example.test", score=90, company="Acme Rockets")
    lead(world, email="cold@example.test", score=10, company="Globex")
    client = client_for(world.viewer)
    response = client.get(f"{BASE}lead/", {"f": ["score"], "op": ["gte"], "v": ["50"]})
    assert [row["record"].pk for row in response.context["rows"]] == [hot.pk]
    response = client.get(f"{BASE}lead/", {"f": ["company", "email"], "op": ["icontains", "ne"], "v": ["rocket", "cold@example.test"]})
    assert [row["record"].pk for row in response.context["rows"]] == [hot.pk]
    response = client.get(f"{BASE}lead/", {"f": ["status"], "op": ["in"], "v": ["new, working"]})
    assert response.context["total"] == 2


def test_a_bad_filter_is_a_400_naming_the_field(client_for, world):
    lead(world)
    response = client_for(world.viewer).get(f"{BASE}lead/", {"f": ["score"], "op": ["gt"], "v": ["lots"]})
    assert response.status_code == 400
    assert "score: cannot compare with" in response.content.decode()
    response = client_for(world.viewer).get(f"{BASE}lead/", {"f": ["nope"], "op": ["eq"], "v": ["1"]})
    assert response.status_code == 400 and "Unknown field" in response.content.decode()


def test_the_list_orders_and_pages(client_for, world):
    for score in range(55):
        Record.objects.create(tenant=world.tenant, object_type="lead", data={"email": f"s{score}@example.test", "score": score})
    client = client_for(world.viewer)
    first = client.get(f"{BASE}lead/", {"order": "-score"})
    assert first.context["total"] == 55 and first.context["pages"] == 2
    assert [row["record"].data["score"] for row in first.context["rows"][:3]] == [54, 53, 52]
    second = client.get(f"{BASE}lead/", {"order": "-score", "page": "2"})
    assert [row["record"].data["score"] for row in second.context["rows"]] == [4, 3, 2, 1, 0]
    assert "order=-score&amp;page=1" in second.content.decode()


def test_an_unknown_type_or_another_tenants_type_is_404(client_for, world):
    DefineObjectType(world.other_tenant, world.outsider, "secret_thing", "Secret", [{"name": "x", "type": "string"}]).execute()
    client = client_for(world.owner)
    assert client.get(f"{BASE}nothing/").status_code == 404
    assert client.get(f"{BASE}secret_thing/").status_code == 404


def test_creating_a_record_shows_each_bad_field_next_to_its_input(client_for, world):
    response = client_for(world.editor).post(f"{BASE}lead/new", {"email": "not-an-email", "score": "500", "first_name": "Ada"})
    assert response.status_code == 400
    inputs = {i.name: i for i in response.context["inputs"]}
    assert inputs["email"].errors == ["'not-an-email' is not a valid e-mail address"]
    assert inputs["score"].errors == ["500 is above the maximum 100"]
    assert inputs["first_name"].errors == [] and inputs["first_name"].text == "Ada"  # what was typed is kept
    page = response.content.decode()
    assert 'id="field-email-error"' in page and 'aria-invalid="true"' in page
    assert not Record.objects.exists()


def test_a_missing_required_field_is_named(client_for, world):
    response = client_for(world.editor).post(f"{BASE}lead/new", {"first_name": "Ada"})
    assert response.status_code == 400
    assert {i.name: i.errors for i in response.context["inputs"]}["email"] == ["is required"]


def test_creating_a_record_coerces_form_strings_and_records_history(client_for, world):
    response = client_for(world.editor).post(f"{BASE}lead/new", {"email": "ada@example.test", "score": "87.5", "status": "working"})
    record = Record.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{BASE}lead/{record.pk}/"
    assert record.data == {"email": "ada@example.test", "score": 87.5, "status": "working"}
    change = RecordChange.objects.get(record=record)
    assert change.operation == "created" and change.actor == world.editor


def test_editing_a_record_saves_changes_clears_blanks_and_shows_history(client_for, world):
    record = lead(world, company="Acme", score=10)
    client = client_for(world.editor)
    form = client.get(f"{BASE}lead/{record.pk}/edit")
    assert {i.name: i.text for i in form.context["inputs"]}["company"] == "Acme"
    data = {"email": "x@example.test", "company": "", "score": "20", "status": "new"}
    assert client.post(f"{BASE}lead/{record.pk}/edit", data).status_code == 302
    record.refresh_from_db()
    assert record.data == {"email": "x@example.test", "score": 20, "status": "new"}
    page = client.get(f"{BASE}lead/{record.pk}/").content.decode()
    assert "Updated" in page and "by editor-a" in page
    history = client.get(f"{BASE}lead/{record.pk}/").context["history"]
    assert [c.operation for c in history] == ["updated", "created"]
    assert {r["field"]: (r["old"], r["new"]) for r in history[0].rows} == {"company": ("Acme", None), "score": (10, 20)}


def test_a_bad_edit_changes_nothing_and_names_the_field(client_for, world):
    record = lead(world, score=10)
    response = client_for(world.editor).post(f"{BASE}lead/{record.pk}/edit", {"email": "x@example.test", "score": "abc"})
    assert response.status_code == 400
    assert {i.name: i.errors for i in response.context["inputs"]}["score"] == ["'abc' is not a number"]
    record.refresh_from_db()
    assert record.data["score"] == 10


def test_deleting_a_record(client_for, world):
    record = lead(world)
    response = client_for(world.editor).post(f"{BASE}lead/{record.pk}/delete")
    assert response.status_code == 302 and response["Location"] == f"{BASE}lead/"
    assert not Record.objects.filter(pk=record.pk).exists()


def test_viewers_and_operators_cannot_write_records(client_for, world):
    record = lead(world)
    for role in ("viewer", "operator"):
        client = client_for(world.user(role))
        assert client.post(f"{BASE}lead/new", {"email": "v@example.test"}).status_code == 403
        assert client.post(f"{BASE}lead/{record.pk}/edit", {"email": "v@example.test"}).status_code == 403
        assert client.post(f"{BASE}lead/{record.pk}/delete").status_code == 403
        assert "Edit</a>" not in client.get(f"{BASE}lead/{record.pk}/").content.decode()
    assert Record.objects.filter(pk=record.pk, data__email="x@example.test").exists()


def test_another_tenants_record_or_a_record_under_the_wrong_type_is_404(client_for, world):
    theirs = Record.objects.create(tenant=world.other_tenant, object_type="lead", data={"email": "t@example.test"})
    ours = lead(world)
    client = client_for(world.owner)
    for url in (f"{BASE}lead/{theirs.pk}/", f"{BASE}lead/{theirs.pk}/edit", f"{BASE}account/{ours.pk}/"):
        assert client.get(url).status_code == 404
    assert client.post(f"{BASE}lead/{theirs.pk}/delete").status_code == 404
    assert Record.objects.filter(pk=theirs.pk).exists()


def test_admins_define_a_custom_type_from_field_rows(client_for, world):
    data = {
        "slug": "subscription",
        "label": "Subscription",
        "fields-0-name": "plan",
        "fields-0-type": "choice",
        "fields-0-choices": "free, pro",
        "fields-0-required": "1",
        "fields-0-default": "free",
        "fields-1-name": "seats",
        "fields-1-type": "integer",
        "fields-1-min": "1",
        "fields-1-max": "500",
        "fields-2-name": "",  # empty rows are ignored
    }
    response = client_for(world.admin).post(f"{BASE}_types/new", data)
    assert response.status_code == 302 and response["Location"] == f"{BASE}subscription/"
    row = ObjectType.objects.get(tenant=world.tenant, slug="subscription")
    assert row.fields == [
        {"name": "plan", "type": "choice", "required": True, "choices": ["free", "pro"], "default": "free"},
        {"name": "seats", "type": "integer", "min": 1, "max": 500},
    ]
    # …and records of it can be created right away, with its validation.
    response = client_for(world.editor).post(f"{BASE}subscription/new", {"seats": "0"})
    assert {i.name: i.errors for i in response.context["inputs"]}["seats"] == ["0 is below the minimum 1"]


def test_an_invalid_type_definition_is_a_400_and_saves_nothing(client_for, world):
    response = client_for(world.admin).post(
        f"{BASE}_types/new", {"slug": "lead", "label": "Lead again", "fields-0-name": "x", "fields-0-type": "string", "fields-0-min": "many"}
    )
    assert response.status_code == 400 and "min: &#x27;many&#x27; is not a number" in response.content.decode()
    response = client_for(world.admin).post(f"{BASE}_types/new", {"slug": "lead", "label": "Lead again", "fields-0-name": "x", "fields-0-type": "string"})
    assert response.status_code == 400 and "is a built-in type" in response.content.decode()
    response = client_for(world.admin).post(f"{BASE}_types/new", {"slug": "thing", "label": "Thing", "fields-0-name": "x", "fields-0-type": "choice"})
    assert response.status_code == 400 and "a choice field needs a list of choices" in response.content.decode()
    assert not ObjectType.objects.exists()


def test_editing_a_type_keeps_its_slug_and_shows_existing_fields(client_for, world):
    DefineObjectType(world.tenant, world.owner, "plan", "Plan", [{"name": "title", "type": "string", "required": True}]).execute()
    client = client_for(world.admin)
    form = client.get(f"{BASE}_types/plan/")
    assert form.context["rows"][0]["name"] == "title" and form.context["rows"][0]["required"] is True
    data = {"slug": "ignored", "label": "Plan v2", "fields-0-name": "title", "fields-0-type": "string", "fields-1-name": "notes", "fields-1-type": "text"}
    assert client.post(f"{BASE}_types/plan/", data).status_code == 302
    row = ObjectType.objects.get(tenant=world.tenant)
    assert row.slug == "plan" and row.label == "Plan v2" and [f["name"] for f in row.fields] == ["title", "notes"]


def test_editors_cannot_define_types(client_for, world):
    response = client_for(world.editor).post(f"{BASE}_types/new", {"slug": "thing", "label": "Thing", "fields-0-name": "x", "fields-0-type": "string"})
    assert response.status_code == 403 and not ObjectType.objects.exists()
    assert "Only owners and admins can change object types." in client_for(world.editor).get(f"{BASE}_types/new").content.decode()


def test_another_tenants_custom_type_cannot_be_edited_here(client_for, world):
    DefineObjectType(world.other_tenant, world.outsider, "plan", "Plan", [{"name": "x", "type": "string"}]).execute()
    assert client_for(world.owner).get(f"{BASE}_types/plan/").status_code == 404
