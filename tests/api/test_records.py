"""Records per object type with field filters, and custom object types."""

from __future__ import annotations

import pytest

from circuits.records.models import ObjectType, Record, RecordChange
from circuits.records.service import CreateRecord
from tests.api.access import assert_problem
from tests.api.helpers import client_as


@pytest.fixture
def editor(world):
    return client_as(world, "editor")


def _leads(world):
    for email, score, status in (("a@x.test", 10, "new"), ("b@x.test", 50, "working"), ("c@y.test", 90, "new")):
        CreateRecord(world.tenant, world.owner, "lead", {"email": email, "score": score, "status": status}).execute()
    CreateRecord(world.other_tenant, world.outsider, "lead", {"email": "z@x.test", "score": 99}).execute()


def test_create_read_update_delete_a_record(world, editor):
    created = editor.post("/api/v1/records/lead", {"email": "ada@example.com", "score": "42"})
    assert created.status_code == 201
    record = created.json()
    assert record["score"] == 42 and record["object_type"] == "lead" and record["status"] == "new"  # coerced, defaults applied
    assert editor.get(f"/api/v1/records/lead/{record['id']}").json()["email"] == "ada@example.com"
    changed = editor.patch(f"/api/v1/records/lead/{record['id']}", {"score": 43, "company": "Acme"})
    assert changed.json()["score"] == 43 and changed.json()["company"] == "Acme"
    assert RecordChange.objects.filter(record_id=record["id"]).count() == 2
    assert_problem(editor.get(f"/api/v1/records/account/{record['id']}"), 404)  # wrong type: not found
    assert editor.delete(f"/api/v1/records/lead/{record['id']}").status_code == 204
    assert not Record.objects.filter(pk=record["id"]).exists()


def test_bad_fields_are_named(world, editor):
    body = assert_problem(editor.post("/api/v1/records/lead", {"email": "not-an-email", "colour": "red"}), 400)
    assert "colour" in body["errors"]
    body = assert_problem(editor.post("/api/v1/records/lead", {"email": "not-an-email", "score": "many"}), 400)
    assert set(body["errors"]) == {"email", "score"}
    assert_problem(editor.post("/api/v1/records/lead", [1, 2]), 400)
    assert not Record.objects.exists()


def test_an_unknown_object_type_is_404(world, editor):
    assert_problem(editor.get("/api/v1/records/spaceship"), 404)
    assert_problem(editor.post("/api/v1/records/spaceship", {"x": 1}), 404)


def test_filters_ordering_and_paging(world, editor):
    _leads(world)

    def emails(query: str) -> list[str]:
        response = editor.get(f"/api/v1/records/lead{query}")
        assert response.status_code == 200, response.content
        return [r["email"] for r in response.json()["results"]]

    assert emails("?order_by=email") == ["a@x.test", "b@x.test", "c@y.test"]  # this tenant only
    assert emails("?score__gte=50&order_by=-score") == ["c@y.test", "b@x.test"]
    assert emails("?status=new&order_by=email") == ["a@x.test", "c@y.test"]
    assert emails("?email__icontains=@X.&order_by=email") == ["a@x.test", "b@x.test"]
    assert emails("?status__in=working,qualified") == ["b@x.test"]
    assert emails("?company__is_null=false") == []
    page = editor.get("/api/v1/records/lead?order_by=email&limit=2").json()
    assert page["count"] == 3 and [r["email"] for r in page["results"]] == ["a@x.test", "b@x.test"]
    assert editor.get(page["next"]).json()["results"][0]["email"] == "c@y.test"
    assert "colour" in assert_problem(editor.get("/api/v1/records/lead?colour=red"), 400)["errors"]
    assert "score__near" in assert_problem(editor.get("/api/v1/records/lead?score__near=5"), 400)["errors"]
    assert "limit" in assert_problem(editor.get("/api/v1/records/lead?limit=0"), 400)["errors"]


def test_upsert_updates_the_match_or_creates(world, editor):
    _leads(world)
    updated = editor.post("/api/v1/records/lead/upsert", {"match_on": ["email"], "data": {"email": "a@x.test", "score": 11}})
    assert updated.status_code == 200 and updated.json()["score"] == 11
    created = editor.post("/api/v1/records/lead/upsert", {"match_on": ["email"], "data": {"email": "new@x.test"}})
    assert created.status_code == 201
    assert Record.objects.filter(tenant=world.tenant).count() == 4


def test_define_a_custom_object_type_and_use_it(world):
    admin = client_as(world, "admin")
    fields = [{"name": "plan", "type": "choice", "choices": ["free", "pro"], "required": True}]
    defined = admin.put("/api/v1/object-types/subscription", {"label": "Subscription", "fields": fields})
    assert defined.status_code == 200 and defined.json()["builtin"] is False
    assert defined.json()["schema"]["required"] == ["plan"]
    assert "subscription" in [t["slug"] for t in admin.get("/api/v1/object-types").json()]
    assert admin.post("/api/v1/records/subscription", {"plan": "pro"}).status_code == 201
    assert "plan" in assert_problem(admin.post("/api/v1/records/subscription", {"plan": "gold"}), 400)["errors"]
    body = assert_problem(admin.put("/api/v1/object-types/broken", {"label": "B", "fields": [{"name": "x", "type": "colour"}]}), 400)
    assert "fields" in body["errors"]
    assert not ObjectType.objects.filter(slug="broken").exists()
    # Another tenant does not see it.
    from tests.api.helpers import key_client, make_key

    theirs = key_client(make_key(world.other_tenant, world.outsider, "owner", actor=world.outsider))
    assert "subscription" not in [t["slug"] for t in theirs.get("/api/v1/object-types").json()]
    assert_problem(theirs.get("/api/v1/records/subscription"), 404)
