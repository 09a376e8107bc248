"""API keys and sessions: who the caller is, which tenant, and with which role."""

from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from circuits.tenancy.models.access import ApiKey
from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.services.apikeys import RevokeApiKey
from tests.api.access import assert_problem
from tests.api.helpers import key_client, make_key, session_client, simple_circuit


def test_a_key_authenticates_as_its_user_in_its_tenant(world):
    simple_circuit(world, "greeter")
    client = key_client(make_key(world.tenant, world.editor, "editor"))
    response = client.get("/api/v1/circuits")
    assert response.status_code == 200
    assert [c["slug"] for c in response.json()["results"]] == ["greeter"]


def test_a_revoked_or_expired_key_is_401(world):
    raw = make_key(world.tenant, world.editor, "editor")
    key = ApiKey.objects.get(prefix=raw[:12])
    RevokeApiKey(world.tenant, world.owner, key).execute()
    assert_problem(key_client(raw).get("/api/v1/circuits"), 401)

    raw = make_key(world.tenant, world.editor, "editor")
    ApiKey.objects.filter(prefix=raw[:12]).update(expires_at=timezone.now() - timedelta(seconds=1))
    body = assert_problem(key_client(raw).get("/api/v1/circuits"), 401)
    assert "expired" in body["detail"]


def test_a_malformed_authorization_header_is_401(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    assert_problem(client.get("/api/v1/circuits"), 401)


def test_a_key_acts_with_the_lower_of_its_role_and_its_users_role(world):
    raw = make_key(world.tenant, world.editor, "editor")
    client = key_client(raw)
    assert client.post("/api/v1/circuits", {"name": "Allowed"}).status_code == 201
    # The user is demoted after the key was made: the key is demoted with them.
    Membership.objects.filter(user=world.editor, tenant=world.tenant).update(role="viewer")
    body = assert_problem(client.post("/api/v1/circuits", {"name": "Refused"}), 403)
    assert "viewer" in body["detail"]


def test_a_key_whose_user_left_the_tenant_is_401(world):
    raw = make_key(world.tenant, world.editor, "editor")
    Membership.objects.filter(user=world.editor, tenant=world.tenant).delete()
    assert_problem(key_client(raw).get("/api/v1/circuits"), 401)


def test_an_object_grant_of_the_keys_user_counts(world):
    circuit = simple_circuit(world, "greeter")
    client = key_client(make_key(world.tenant, world.viewer, "viewer"))
    assert_problem(client.post("/api/v1/circuits/greeter/disable"), 403)
    assign_perm("circuits.run_circuit", world.viewer, circuit)
    response = client.post("/api/v1/circuits/greeter/disable")
    assert response.status_code == 200 and response.json()["enabled"] is False


def test_the_key_records_when_it_was_last_used(world):
    raw = make_key(world.tenant, world.viewer, "viewer")
    assert ApiKey.objects.get(prefix=raw[:12]).last_used_at is None
    key_client(raw).get("/api/v1/roles")
    assert ApiKey.objects.get(prefix=raw[:12]).last_used_at is not None


def test_a_key_with_another_tenant_in_x_tenant_is_400(world):
    client = key_client(make_key(world.tenant, world.viewer, "viewer"), HTTP_X_TENANT="globex")
    body = assert_problem(client.get("/api/v1/circuits"), 400)
    assert "acme" in body["detail"]
    assert key_client(make_key(world.tenant, world.viewer, "viewer"), HTTP_X_TENANT="acme").get("/api/v1/circuits").status_code == 200


def test_a_session_user_of_one_tenant_needs_no_header(world):
    assert session_client(world.viewer).get("/api/v1/circuits").status_code == 200


def test_a_session_user_of_several_tenants_must_name_one(world):
    Membership.objects.create(user=world.viewer, tenant=world.other_tenant, role="owner")
    simple_circuit(world, "ours")
    body = assert_problem(session_client(world.viewer).get("/api/v1/circuits"), 400)
    assert "X-Tenant" in body["detail"] and "acme" in body["detail"] and "globex" in body["detail"]
    ours = session_client(world.viewer, "acme").get("/api/v1/circuits").json()["results"]
    theirs = session_client(world.viewer, "globex").get("/api/v1/circuits").json()["results"]
    assert [c["slug"] for c in ours] == ["ours"] and theirs == []
    # The role is the one held in the named tenant.
    assert session_client(world.viewer, "globex").post("/api/v1/circuits", {"name": "Mine"}).status_code == 201
    assert_problem(session_client(world.viewer, "acme").post("/api/v1/circuits", {"name": "Mine"}), 403)


def test_a_session_naming_an_unknown_tenant_is_404(world):
    assert_problem(session_client(world.viewer, "no-such-tenant").get("/api/v1/circuits"), 404)


def test_a_session_with_no_tenant_at_all_is_403(world, django_user_model):
    loner = django_user_model.objects.create_user("loner", password="pw-for-tests-123")
    assert_problem(session_client(loner).get("/api/v1/circuits"), 403)


def test_the_session_needs_the_csrf_token_for_writes(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.editor)
    body = assert_problem(client.post("/api/v1/circuits", {"name": "x"}), 403)
    assert "CSRF" in body["detail"]
    token = "t0k3n" * 6 + "ab"  # a 32-character CSRF secret, as the cookie of a signed-in page carries
    client.cookies["csrftoken"] = token
    assert client.post("/api/v1/circuits", {"name": "x"}, HTTP_X_CSRFTOKEN=token).status_code == 201


def test_createapikey_prints_a_working_key_alone_on_its_last_line(world, capsys):
    call_command("createapikey", "--tenant", "acme", "--user", world.editor.email, "--role", "operator")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert raw.startswith("cos_") and " " not in raw
    key = ApiKey.objects.get(prefix=raw[:12])
    assert (key.user, key.role, key.tenant) == (world.editor, "operator", world.tenant)
    assert key.hashed_key != raw and raw not in key.hashed_key
    assert key_client(raw).get("/api/v1/executions").status_code == 200


def test_createapikey_refuses_a_role_above_the_users(world):
    import pytest
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="above"):
        call_command("createapikey", "--tenant", "acme", "--user", "viewer-a", "--role", "editor")
    with pytest.raises(CommandError, match="not a member"):
        call_command("createapikey", "--tenant", "acme", "--user", "outsider", "--role", "viewer")
    with pytest.raises(CommandError, match="No tenant"):
        call_command("createapikey", "--tenant", "nope", "--user", "viewer-a", "--role", "viewer")
    assert not ApiKey.objects.exists()
