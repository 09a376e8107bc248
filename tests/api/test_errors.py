"""One error format everywhere: RFC 9457 problem+json, for every kind of failure."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from circuits.automation.models.circuit import Circuit
from tests.api.access import assert_problem
from tests.api.helpers import client_as, key_client, make_key, simple_circuit


@pytest.fixture
def owner(world) -> APIClient:
    return client_as(world, "owner")


def test_an_unknown_path_under_api_is_a_problem_404_not_an_html_page(owner):
    for path in ("/api/nope", "/api/v1/nothing/here", "/api/v2/circuits", "/api/v1/circuits/"):
        body = assert_problem(owner.get(path), 404)
        assert "/api/v1/" in body["detail"]
    assert_problem(owner.delete("/api/v9"), 404)
    assert_problem(owner.get("/api/v1/circuits/a%0Ab/triggers/1"), 404)  # a newline in the path (found by schemathesis)


def test_an_id_too_large_for_the_database_is_404(owner):
    assert_problem(owner.get("/api/v1/executions/99999999999999999999999"), 404)


def test_a_method_the_endpoint_does_not_have_is_405(owner):
    body = assert_problem(owner.delete("/api/v1/circuits"), 405)
    assert "DELETE" in body["detail"]


def test_a_body_that_is_not_json_is_415(owner):
    response = owner.post("/api/v1/circuits", "name=x", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415)


def test_a_body_without_content_type_is_415_not_silently_ignored(world):
    client = client_as(world, "owner")
    response = client.generic("POST", "/api/v1/circuits", b'{"name": "x"}', content_type="")
    assert_problem(response, 415)
    assert not Circuit.objects.filter(tenant=world.tenant).exists()


def test_an_unacceptable_accept_header_is_406(owner):
    assert_problem(owner.get("/api/v1/circuits", HTTP_ACCEPT="application/xml"), 406)


def test_malformed_json_is_400_naming_line_and_column(owner):
    response = owner.post("/api/v1/circuits", '{"name": "x",\n  "tags": [1,}', content_type="application/json")
    body = assert_problem(response, 400)
    assert (body["line"], body["column"]) == (2, 14)
    assert "line 2, column 14" in body["detail"]
    assert body["type"].endswith("malformed-json")


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('{"name": NaN}', "NaN"),
        ('{"name": 1e999}', "too large"),
        ('{"name": "a\\u0000b"}', "NUL"),
        ('{"name": "\\ud800"}', "surrogate"),
        ("[" * 100_000 + "]" * 100_000, "deeply"),
    ],
)
def test_json_the_database_cannot_store_is_400(owner, raw, words):
    body = assert_problem(owner.post("/api/v1/circuits", raw, content_type="application/json"), 400)
    assert words in body["detail"]


def test_a_body_over_the_limit_is_413(owner, settings):
    settings.API_MAX_BODY_BYTES = 2048
    body = assert_problem(owner.post("/api/v1/circuits", {"name": "x", "description": "y" * 5000}), 413)
    assert "2048" in body["detail"]


def test_unknown_fields_are_refused_by_name(world, owner):
    body = assert_problem(owner.post("/api/v1/circuits", {"name": "x", "colour": "red", "size": 3}), 400)
    assert set(body["errors"]) == {"colour", "size"}
    assert not Circuit.objects.filter(tenant=world.tenant).exists()


def test_unknown_fields_are_refused_on_action_endpoints_too(world, owner):
    simple_circuit(world, "greeter")
    body = assert_problem(owner.post("/api/v1/circuits/greeter/disable", {"force": True}), 400)
    assert "force" in body["errors"]
    assert Circuit.objects.get(slug="greeter").enabled


def test_field_errors_are_listed_per_field(owner):
    body = assert_problem(owner.post("/api/v1/circuits", {"slug": "Not A Slug!", "tags": "x"}), 400)
    assert set(body["errors"]) >= {"name", "slug", "tags"}
    assert all(isinstance(m, list) and m for m in body["errors"].values())
    assert body["type"] == "urn:circuitos:problem:validation"


def test_an_unexpected_error_is_a_logged_500_problem(owner, monkeypatch, caplog):
    from circuits.web.api.views.members import RoleListView

    def broken(self, request):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(RoleListView, "get", broken)
    body = assert_problem(owner.get("/api/v1/roles"), 500)
    assert "fire" not in body["detail"]  # internals stay in the log
    assert any("RoleListView" in r.getMessage() and r.exc_info for r in caplog.records)


def test_too_many_requests_are_429_with_retry_after(world, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "3/min", "api_tenant": "100/min"}}
    client = client_as(world, "viewer")
    statuses = [client.get("/api/v1/roles").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/roles")
    body = assert_problem(response, 429)
    assert 0 < int(response["Retry-After"]) <= 60
    assert body["retry_after"] == int(response["Retry-After"])
    # Another key of the same tenant has its own budget …
    assert client_as(world, "editor").get("/api/v1/roles").status_code == 200


def test_the_tenant_budget_is_shared_by_all_its_keys(world, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "100/min", "api_tenant": "2/min"}}
    first, second = client_as(world, "viewer"), client_as(world, "editor")
    assert first.get("/api/v1/roles").status_code == 200
    assert second.get("/api/v1/roles").status_code == 200
    response = first.get("/api/v1/roles")
    assert_problem(response, 429)
    assert int(response["Retry-After"]) > 0
    # … while another tenant is not slowed down by this one.
    other = key_client(make_key(world.other_tenant, world.outsider, "owner", actor=world.outsider))
    assert other.get("/api/v1/roles").status_code == 200
