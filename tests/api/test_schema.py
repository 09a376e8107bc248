"""The OpenAPI schema: valid, complete with examples, served with offline Swagger UI, and
fuzzed by schemathesis in-process: no 5xx and no answer that contradicts the schema."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.api.helpers import make_key, make_objects

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def raw_schema(db) -> dict:
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_validates_without_warnings(db, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "openapi: 3" in (tmp_path / "schema.yaml").read_text()


def test_every_operation_has_examples_and_problem_errors(raw_schema):
    missing = []
    for path, item in raw_schema["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in item.items():
            if method not in METHODS:
                continue
            name = f"{method.upper()} {path}"
            success = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
            bodies = [r["content"]["application/json"] for r in success.values() if "content" in r]
            if bodies and not any("examples" in b or "example" in b for b in bodies):
                missing.append(f"{name}: response example")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            request_props = body and raw_schema["components"]["schemas"].get(body["schema"].get("$ref", "").rsplit("/", 1)[-1], {}).get("properties")
            if request_props and "examples" not in body:
                missing.append(f"{name}: request example")
            for code in ("400", "401", "403", "404", "429", "default"):
                assert "application/problem+json" in operation["responses"][code]["content"], f"{name} {code}"
    assert missing == []


def test_request_bodies_are_documented_as_refusing_unknown_fields(raw_schema):
    schemas = raw_schema["components"]["schemas"]
    assert schemas["CircuitCreateRequest"]["additionalProperties"] is False
    assert schemas["ExecuteRequest"]["additionalProperties"] is False


def test_inbound_webhooks_are_documented(raw_schema):
    hook = raw_schema["paths"]["/hooks/{token}"]["post"]
    assert hook["security"] == [] and "202" in hook["responses"]


def test_the_retry_version_choice_is_documented(raw_schema):
    retry = raw_schema["paths"]["/api/v1/executions/{id}/retry"]["post"]
    assert "published" in retry["description"]
    ref = retry["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    version = raw_schema["components"]["schemas"][ref]["properties"]["version"]
    assert "upstream" in version["description"]
    choices = raw_schema["components"]["schemas"][version["allOf"][0]["$ref"].rsplit("/", 1)[-1]] if "allOf" in version else version
    assert choices["enum"] == ["original", "published"]


def test_a_wait_that_runs_out_is_documented_as_202_with_where_to_follow(raw_schema):
    execute = raw_schema["paths"]["/api/v1/execute"]["post"]
    assert "bounds the wait, never the run" in execute["description"]
    accepted = execute["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "url" in raw_schema["components"]["schemas"][accepted]["properties"]
    timeout = next(p for p in execute["parameters"] if p["name"] == "timeout")
    assert "API_WAIT_SECONDS" in timeout["description"]


def test_swagger_ui_is_served_from_local_assets(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


# --- schemathesis ---------------------------------------------------------------------


@pytest.fixture
def api_key(world) -> str:
    make_objects(world)
    return make_key(world.tenant, world.owner, "owner")


@pytest.fixture
def live_schema(raw_schema, world):
    # The WSGI app runs in this thread, inside the test's transaction: Django must not close
    # the connection at the end of each request (the test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    schema = schemathesis.openapi.from_dict(raw_schema)
    schema.app = get_wsgi_application()
    yield schema
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# A few resource groups, read and write, with a valid key (the rest is covered by the suites above).
lazy_schema = (
    schemathesis.pytest.from_fixture("live_schema")
    .include(path_regex=r"^/api/v1/(circuits|executions|execute|events|metrics|records|actions|roles|object-types)")
    .include(method=["GET", "POST"])
)


@lazy_schema.parametrize()
@hypothesis_settings(
    max_examples=int(os.environ.get("API_FUZZ_EXAMPLES", "8")),
    deadline=None,
    derandomize=os.environ.get("API_FUZZ_EXAMPLES") is None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,  # no example database written into the work tree
)
def test_the_live_api_never_fails_and_always_answers_as_documented(case, api_key):
    response = case.call(headers={"Authorization": f"Bearer {api_key}"})
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance])
