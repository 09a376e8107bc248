"""A circuit's on_failure policy travels in its export document and is checked on import (#15)."""

from __future__ import annotations

import pytest

from circuits.automation.models.circuit import Circuit
from circuits.automation.services.versions import document_schema
from circuits.tenancy.credentials import save_credential
from tests.api.access import assert_problem
from tests.api.helpers import client_as, simple_circuit

pytestmark = pytest.mark.django_db
POLICY = {"notify": ["owner", "admins"], "slack": "ops-alerts", "error_circuit": "on-error", "digest_minutes": 5}


def test_the_policy_round_trips_through_export_and_import(world):
    save_credential(world.tenant, "ops-alerts", "slack_webhook", {"url": "https://hooks.slack.com/services/T/B/x"})
    simple_circuit(world, "on-error")
    simple_circuit(world, "flaky")
    editor = client_as(world, "editor")
    assert editor.patch("/api/v1/circuits/flaky", {"on_failure": POLICY}, format="json").status_code == 200
    document = editor.get("/api/v1/circuits/flaky/export").json()
    assert document["on_failure"] == POLICY
    created = editor.post("/api/v1/import", {"document": document, "slug": "flaky-copy"}, format="json")
    assert created.status_code == 201, created.content
    assert Circuit.objects.get(tenant=world.tenant, slug="flaky-copy").on_failure == POLICY
    # A circuit on the tenant's default exports null and imports on the default again.
    document = editor.get("/api/v1/circuits/on-error/export").json()
    assert document["on_failure"] is None
    assert editor.post("/api/v1/import", {"document": document, "slug": "on-error-copy"}, format="json").status_code == 201
    assert Circuit.objects.get(tenant=world.tenant, slug="on-error-copy").on_failure is None
    assert "on_failure" in document_schema()["properties"]


def test_a_policy_naming_what_this_tenant_lacks_is_refused_clearly_and_nothing_is_created(world):
    simple_circuit(world, "flaky")
    editor = client_as(world, "editor")
    document = editor.get("/api/v1/circuits/flaky/export").json()
    document["on_failure"] = {"slack": "their-slack", "error_circuit": "nowhere", "colour": "red"}
    body = assert_problem(editor.post("/api/v1/import", {"document": document, "slug": "flaky-copy"}, format="json"), 400)
    messages = body["errors"]["document"]
    assert "on_failure: colour: unknown setting" in messages[0]
    assert any("on_failure: slack: no credential named 'their-slack' in this tenant" in m for m in messages)
    assert any("on_failure: error_circuit: no circuit 'nowhere' in this tenant" in m for m in messages)
    assert "remove on_failure from the document" in messages[-1]
    document["on_failure"] = ["owner"]  # not an object: the document schema refuses it
    body = assert_problem(editor.post("/api/v1/import", {"document": document, "slug": "flaky-copy"}, format="json"), 400)
    assert body["errors"]["document"][0].startswith("on_failure:")
    assert not Circuit.objects.filter(tenant=world.tenant, slug="flaky-copy").exists()
