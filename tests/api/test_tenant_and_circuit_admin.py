"""Limits, allow-list, circuit grants, re-run from a step and version diffs through the API (#15)."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.services.versions import SaveDraft
from circuits.tenancy.models.audit import AuditEntry
from circuits.tenancy.models.tenants import Membership
from circuits.web.views.builder.services import diff_versions
from tests.api.access import assert_problem
from tests.api.helpers import client_as, simple_circuit
from tests.engine.helpers import build, chain, node
from tests.fixtures import make_user

pytestmark = pytest.mark.django_db
SETTINGS = "/api/v1/tenant/settings"


def test_limits_and_the_allow_list_are_read_by_members_and_replaced_by_admins(world):
    admin = client_as(world, "admin")
    answer = admin.patch(SETTINGS, {"limits": {"max_steps": 50, "max_seconds": "12.5"}, "outbound_allowlist": ["api.example.com", "10.0.0.0/8"]}, format="json")
    assert answer.status_code == 200, answer.content
    body = client_as(world, "viewer").get(SETTINGS).json()
    assert body["limits"] == {"max_steps": 50, "max_seconds": 12.5}
    assert body["effective_limits"]["max_steps"]["value"] == 50 and body["effective_limits"]["max_loop_iterations"]["value"] == 1000
    assert body["outbound_allowlist"] == ["api.example.com", "10.0.0.0/8"]
    # Replacing with {} puts every limit back to its default.
    assert admin.patch(SETTINGS, {"limits": {}}, format="json").json()["limits"] == {}


def test_a_bad_limit_is_a_400_naming_it_and_nothing_of_the_request_is_saved(world):
    admin = client_as(world, "admin")
    admin.patch(SETTINGS, {"outbound_allowlist": ["old.example.com"]}, format="json")
    body = assert_problem(admin.patch(SETTINGS, {"limits": {"max_steps": 10**9}, "outbound_allowlist": ["new.example.com"]}, format="json"), 400)
    assert "max_steps: must be at most" in body["errors"]["limits"][0]
    body = assert_problem(admin.patch(SETTINGS, {"limits": {"max_steps": 5}, "outbound_allowlist": ["http://not a host/"]}, format="json"), 400)
    assert list(body["errors"]) == ["outbound_allowlist"]
    body = assert_problem(admin.patch(SETTINGS, {"limits": {"no_such_limit": 1}}, format="json"), 400)
    assert "unknown limit 'no_such_limit'" in body["errors"]["limits"][0]
    world.tenant.refresh_from_db()
    assert world.tenant.outbound_allowlist == ["old.example.com"] and not world.tenant.limits


def test_a_grant_lets_a_member_do_more_on_one_circuit_until_it_is_revoked(world):
    simple_circuit(world, "shared")
    operator_key = client_as(world, "operator")
    assert_problem(operator_key.patch("/api/v1/circuits/shared", {"description": "x"}, format="json"), 403)
    admin = client_as(world, "admin")
    answer = admin.post("/api/v1/circuits/shared/grants", {"user": world.operator.pk, "permission": "edit"}, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json() == [{"user": {"id": world.operator.pk, "username": world.operator.username, "email": world.operator.email}, "permissions": ["edit"]}]
    assert operator_key.patch("/api/v1/circuits/shared", {"description": "x"}, format="json").status_code == 200
    entry = AuditEntry.objects.filter(tenant=world.tenant, action="circuit_grant.added").get()
    assert (
        entry.actor_user == world.admin and entry.before is None and entry.after["object_pk"] == str(Circuit.objects.get(tenant=world.tenant, slug="shared").pk)
    )
    assert admin.delete(f"/api/v1/circuits/shared/grants/{world.operator.pk}/edit").json() == []
    assert_problem(operator_key.patch("/api/v1/circuits/shared", {"description": "y"}, format="json"), 403)
    assert AuditEntry.objects.filter(tenant=world.tenant, action="circuit_grant.removed", actor_user=world.admin).exists()


def test_a_grant_is_refused_for_a_non_member_an_unknown_permission_or_a_grant_that_is_not_there(world):
    simple_circuit(world, "shared")
    admin = client_as(world, "admin")
    body = assert_problem(admin.post("/api/v1/circuits/shared/grants", {"user": world.outsider.pk, "permission": "run"}, format="json"), 400)
    assert list(body["errors"]) == ["user"]
    body = assert_problem(admin.post("/api/v1/circuits/shared/grants", {"user": world.viewer.pk, "permission": "manage_members"}, format="json"), 400)
    assert list(body["errors"]) == ["permission"]
    body = assert_problem(admin.delete(f"/api/v1/circuits/shared/grants/{world.viewer.pk}/run"), 400)
    assert list(body["errors"]) == ["permission"]
    assert admin.get("/api/v1/circuits/shared/grants").json() == []


def test_a_removed_members_grants_are_not_listed_again_when_they_come_back(world):
    circuit = simple_circuit(world, "shared")
    guest = make_user("guest")
    membership = Membership.objects.create(user=guest, tenant=world.tenant, role="viewer")
    assign_perm("circuits.run_circuit", guest, circuit)
    admin = client_as(world, "admin")
    assert admin.get("/api/v1/circuits/shared/grants").json()[0]["permissions"] == ["run"]
    assert admin.delete(f"/api/v1/members/{membership.pk}").status_code == 204
    assert admin.get("/api/v1/circuits/shared/grants").json() == []


def test_rerun_from_a_step_pins_the_steps_before_it_and_names_a_bad_node(world):
    circuit = build(
        world,
        "two-step",
        [node("first", "util.transform", {"template": {"a": 1}}), node("second", "util.transform", {"template": {"b": 2}})],
        chain("first", "second"),
        publish=True,
    )
    source = run_now(create_execution(circuit, {"name": "Ada"}))
    assert source.status == "succeeded", source.error
    operator = client_as(world, "operator")
    answer = operator.post(f"/api/v1/executions/{source.pk}/rerun-from-step", {"node": "second"}, format="json")
    assert answer.status_code == 201, answer.content
    rerun = Execution.objects.get(pk=answer.json()["id"])
    assert rerun.rerun_of_id == source.pk and rerun.is_test
    assert list(rerun.steps.values_list("node_key", flat=True)) == ["first"]  # pinned, copied before the run
    body = assert_problem(operator.post(f"/api/v1/executions/{source.pk}/rerun-from-step", {"node": "nope"}, format="json"), 400)
    assert "no step 'nope'" in body["errors"]["node"][0]
    assert_problem(operator.post(f"/api/v1/executions/{source.pk}/rerun-from-step", {}, format="json"), 400)
    assert Execution.objects.filter(rerun_of=source).count() == 1


def test_the_version_diff_is_the_builders_diff(world):
    circuit = simple_circuit(world, "greeter")
    SaveDraft(
        world.tenant,
        world.owner,
        circuit,
        {"nodes": [node("greet", "util.transform", {"template": "v2"}), node("bye", "util.transform", {})], "edges": chain("greet", "bye")},
    ).execute()
    answer = client_as(world, "viewer").get("/api/v1/circuits/greeter/versions/1/diff/2")
    assert answer.status_code == 200, answer.content
    v1, v2 = circuit.versions.get(number=1), circuit.versions.get(number=2)
    assert answer.json() == {"a": 1, "b": 2, **diff_versions(v1, v2)}
    assert [n["key"] for n in answer.json()["nodes_added"]] == ["bye"] and answer.json()["nodes_changed"][0]["key"] == "greet"
    assert_problem(client_as(world, "viewer").get("/api/v1/circuits/greeter/versions/1/diff/9"), 404)
