"""Every JSON Circuit OS accepts is read strictly: the public webhook, the API, the builder,
circuit import and the event page refuse the same inputs with a 400 that names the problem.

Before: the webhook answered each of these with an HTML 500 (PostgreSQL refused the value on
save, or Python gave up decoding it); the API let 101–999 levels of nesting and integers of
up to 4,300 digits through; the builder and the pages stored NaN and NUL or failed with 500.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.models.trigger import Event
from tests.api.access import assert_problem
from tests.api.helpers import client_as, session_client
from tests.builder.helpers import document, flow
from tests.engine.helpers import build, chain, node

# (name, a JSON value, words the refusal must contain)
BAD_VALUES = [
    ("NaN", "NaN", "NaN"),
    ("Infinity", "Infinity", "Infinity"),
    ("-Infinity", "-Infinity", "-Infinity"),
    ("1e999", "1e999", "too large"),
    ("-1e999", "-1e999", "too large"),
    ("NUL", '"a\\u0000b"', "NUL"),
    ("NUL key", '{"a\\u0000": 1}', "NUL"),
    ("lone high surrogate", '"\\ud800"', "surrogate"),
    ("lone low surrogate key", '{"\\udc00x": 1}', "surrogate"),
    ("2,000 levels deep", "[" * 2000 + "]" * 2000, "deeply"),
    ("150 levels deep", "[" * 150 + "]" * 150, "deeply"),
    ("5,000-digit integer", "9" * 5000, "digits"),
    ("2,000-digit integer", "-" + "9" * 2000, "digits"),
]
IDS = [name for name, _value, _words in BAD_VALUES]


def _object_with(value: str, key: str = "value") -> str:
    return '{"%s": %s}' % (key, value)  # noqa: UP031 - raw JSON text, never a Python value


@pytest.fixture
def hook(world) -> str:
    nodes = [node("out", "util.transform", {"template": "{{ trigger }}"})]
    return build(world, "strict-hook", nodes, chain("out"), triggers=[{"type": "webhook", "config": {}}]).triggers.get().webhook_token


@pytest.mark.parametrize(("name", "value", "words"), BAD_VALUES, ids=IDS)
def test_the_webhook_refuses_json_it_cannot_store_with_a_400_problem_naming_it(client, hook, name, value, words):
    response = client.post(f"/hooks/{hook}", _object_with(value), content_type="application/json")
    body = assert_problem(response, 400)
    assert body["title"] == "Malformed JSON" and body["type"] == "urn:circuitos:problem:malformed-json"
    assert words in body["detail"], body
    assert not Execution.objects.exists()


def test_the_webhook_refuses_a_bad_value_at_the_top_level_too(client, hook):
    for raw in ("NaN", "[1e999]", '"\\u0000"', "[" * 3000):
        assert_problem(client.post(f"/hooks/{hook}", raw, content_type="application/json"), 400)
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    ("form", "words"),
    [("name=a%00b", "NUL"), ("na%00me=x", "NUL"), ("name=%ff", "UTF-8"), ("name=%ed%a0%80", "UTF-8")],
)
def test_the_webhook_refuses_form_bodies_with_nul_or_invalid_utf8(client, hook, form, words):
    response = client.post(f"/hooks/{hook}", form, content_type="application/x-www-form-urlencoded")
    body = assert_problem(response, 400)
    assert body["title"] == "Invalid Form Body" and words in body["detail"]
    assert not Execution.objects.exists()


def test_the_webhook_refuses_a_multipart_field_holding_a_nul(client, hook):
    response = client.post(f"/hooks/{hook}", {"name": "a\x00b"})  # the test client sends multipart
    assert "NUL" in assert_problem(response, 400)["detail"]


def test_the_webhook_refuses_a_query_string_holding_a_nul(client, hook):
    # The ASGI layer refuses it before routing (tests/http/test_body_limits_*); the view does too.
    response = client.post(f"/hooks/{hook}?source=a%00b", {"a": 1}, content_type="application/json")
    body = assert_problem(response, 400)
    assert body["title"] == "Invalid Query String" and "NUL" in body["detail"]


def test_the_webhook_still_takes_ordinary_json_forms_and_big_but_sane_numbers(client, hook):
    payload = '{"n": ' + "9" * 1000 + ', "f": 1.5e300, "deep": ' + "[" * 90 + "]" * 90 + ', "emoji": "\\ud83d\\ude00"}'
    response = client.post(f"/hooks/{hook}", payload, content_type="application/json")
    assert response.status_code == 202, response.content
    received = Execution.objects.get().input["body"]
    assert received["n"] == int("9" * 1000) and received["emoji"] == "😀"
    assert client.post(f"/hooks/{hook}", "name=Ada&tag=a&tag=b", content_type="application/x-www-form-urlencoded").status_code == 202
    assert Execution.objects.order_by("-pk").first().input["body"] == {"name": "Ada", "tag": ["a", "b"]}


@pytest.mark.parametrize(("name", "value", "words"), BAD_VALUES, ids=IDS)
def test_the_api_refuses_the_same_json_with_a_malformed_json_problem(world, name, value, words):
    raw = '{"event": "lead.created", "data": %s}' % _object_with(value)  # noqa: UP031
    response = client_as(world, "owner").post("/api/v1/events/publish", raw, content_type="application/json")
    body = assert_problem(response, 400)
    assert body["type"] == "urn:circuitos:problem:malformed-json" and words in body["detail"], body
    assert not Event.objects.exists()


@pytest.mark.parametrize(("name", "value", "words"), BAD_VALUES, ids=IDS)
def test_the_builder_refuses_the_same_json_in_a_saved_document(world, client_for, name, value, words):
    flow(world)
    doc = json.dumps(document()).replace('"template": "hi {{ trigger.name }}"', '"template": ' + value)
    raw = doc[:-1] + ', "base_revision": 2}'  # the draft as the builder saves it: PUT /api/v1/…/draft
    response = session_client(world.editor, "acme").put("/api/v1/circuits/flow/draft", raw, content_type="application/json")
    body = assert_problem(response, 400)
    assert body["type"] == "urn:circuitos:problem:malformed-json" and words in body["detail"], body


@pytest.mark.parametrize(("name", "value", "words"), BAD_VALUES, ids=IDS)
def test_circuit_import_refuses_the_same_json(world, client_for, name, value, words):
    doc = json.dumps({"name": "Imported", "slug": "imported", "nodes": [], "edges": [], "extra": "HERE"}).replace('"HERE"', value)
    upload = SimpleUploadedFile("c.circuit.json", doc.encode())
    response = client_for(world.editor).post("/t/acme/circuits/new", {"mode": "import", "file": upload})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Circuit.objects.filter(slug="imported").exists()


@pytest.mark.parametrize(("name", "value", "words"), BAD_VALUES, ids=IDS)
def test_the_event_page_refuses_the_same_json_in_a_test_payload(world, client_for, name, value, words):
    response = client_for(world.operator).post("/t/acme/events/", {"name": "lead.created", "payload": _object_with(value)})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Event.objects.exists()
