"""The failure policy through the API (#15): a circuit's on_failure and the tenant default."""

from __future__ import annotations

import pytest

from circuits.automation.models.circuit import Circuit
from circuits.tenancy.credentials import save_credential
from tests.api.access import assert_problem
from tests.api.helpers import client_as, simple_circuit

pytestmark = pytest.mark.django_db


def test_a_circuits_policy_is_written_read_back_and_reset_to_the_tenant_default(world):
    simple_circuit(world, "flaky")
    simple_circuit(world, "on-error")
    editor = client_as(world, "editor")
    policy = {"notify": ["owner", "editors"], "emails": [world.admin.email], "error_circuit": "on-error", "digest_minutes": 5}
    answer = editor.patch("/api/v1/circuits/flaky", {"on_failure": policy}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["on_failure"] == policy
    assert editor.get("/api/v1/circuits/flaky").json()["on_failure"] == policy
    assert editor.patch("/api/v1/circuits/flaky", {"on_failure": None}, format="json").json()["on_failure"] is None
    assert Circuit.objects.get(tenant=world.tenant, slug="flaky").on_failure is None


def test_a_bad_policy_is_a_400_naming_the_part_and_nothing_changes(world):
    simple_circuit(world, "flaky")
    editor = client_as(world, "editor")
    answer = editor.patch("/api/v1/circuits/flaky", {"name": "Renamed", "on_failure": {"emails": [world.outsider.email], "slack": "nope"}}, format="json")
    body = assert_problem(answer, 400)
    messages = " ".join(body["errors"]["on_failure"])
    assert "emails: outsider@example.test is not the address of a member" in messages and "slack: no credential named 'nope'" in messages
    circuit = Circuit.objects.get(tenant=world.tenant, slug="flaky")
    assert circuit.name != "Renamed" and circuit.on_failure is None
    assert_problem(editor.patch("/api/v1/circuits/flaky", {"on_failure": ["owner"]}, format="json"), 400)


def test_the_tenant_default_is_read_by_members_and_changed_by_admins_only(world):
    save_credential(world.tenant, "ops-alerts", "slack_webhook", {"url": "https://hooks.slack.com/services/T/B/x"})
    admin = client_as(world, "admin")
    answer = admin.patch("/api/v1/tenant/settings", {"on_failure": {"notify": ["admins"], "slack": "ops-alerts"}}, format="json")
    assert answer.status_code == 200, answer.content
    assert client_as(world, "viewer").get("/api/v1/tenant/settings").json()["on_failure"] == {"notify": ["admins"], "slack": "ops-alerts"}
    assert_problem(client_as(world, "editor").patch("/api/v1/tenant/settings", {"on_failure": {}}, format="json"), 403)
    body = assert_problem(admin.patch("/api/v1/tenant/settings", {"on_failure": {"error_circuit": "theirs"}}, format="json"), 400)
    assert "error_circuit: no circuit 'theirs'" in body["errors"]["on_failure"][0]
    assert_problem(admin.patch("/api/v1/tenant/settings", {"on_failure": {}, "colour": "red"}, format="json"), 400)  # unknown field
    world.tenant.refresh_from_db()
    assert world.tenant.on_failure == {"notify": ["admins"], "slack": "ops-alerts"}
    assert admin.patch("/api/v1/tenant/settings", {"on_failure": {}}, format="json").json()["on_failure"] == {}


def test_another_tenants_error_circuit_cannot_be_named(world):
    simple_circuit(world, "flaky")
    simple_circuit(world, "theirs", tenant=world.other_tenant, actor=world.outsider)
    body = assert_problem(client_as(world, "editor").patch("/api/v1/circuits/flaky", {"on_failure": {"error_circuit": "theirs"}}, format="json"), 400)
    assert "no circuit 'theirs' in this tenant" in body["errors"]["on_failure"][0]
