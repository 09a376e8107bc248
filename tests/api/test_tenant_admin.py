"""Credentials (write-only secrets), members and roles, API keys."""

from __future__ import annotations

from django.core import mail

from circuits.tenancy.credentials import read_credential
from circuits.tenancy.models.access import ApiKey, Credential
from circuits.tenancy.models.tenants import Invitation, Membership
from tests.api.access import assert_problem
from tests.api.helpers import client_as, key_client, make_key


def test_a_credentials_secret_is_write_only(world):
    admin = client_as(world, "admin")
    created = admin.post("/api/v1/credentials", {"name": "crm", "kind": "http_bearer", "secret": {"token": "s3cr3t"}, "description": "CRM"})
    assert created.status_code == 201
    assert "secret" not in created.json() and "s3cr3t" not in created.content.decode()
    listed = client_as(world, "viewer").get("/api/v1/credentials")
    assert [c["name"] for c in listed.json()["results"]] == ["crm"] and "s3cr3t" not in listed.content.decode()
    assert "s3cr3t" not in bytes(Credential.objects.get(name="crm").encrypted).decode(errors="ignore")
    replaced = admin.put("/api/v1/credentials/crm", {"kind": "http_bearer", "secret": {"token": "n3w"}})
    assert replaced.status_code == 200
    assert read_credential(world.tenant, "crm", "http_bearer")["token"] == "n3w"
    assert admin.delete("/api/v1/credentials/crm").status_code == 204
    assert not Credential.objects.exists()


def test_credential_mistakes_are_named(world):
    admin = client_as(world, "admin")
    body = assert_problem(admin.post("/api/v1/credentials", {"name": "crm", "kind": "http_bearer", "secret": {"password": "x"}}), 400)
    assert "secret" in body["errors"]
    assert "kind" in assert_problem(admin.post("/api/v1/credentials", {"name": "crm", "kind": "carrier_pigeon", "secret": {}}), 400)["errors"]
    admin.post("/api/v1/credentials", {"name": "crm", "kind": "http_bearer", "secret": {"token": "a"}})
    assert "name" in assert_problem(admin.post("/api/v1/credentials", {"name": "crm", "kind": "http_bearer", "secret": {"token": "b"}}), 400)["errors"]
    assert read_credential(world.tenant, "crm", "http_bearer")["token"] == "a"


def test_members_are_invited_changed_and_removed(world, django_user_model, client_for):
    admin = client_as(world, "admin")
    newcomer = django_user_model.objects.create_user("newcomer", email="newcomer@example.test")
    invited = admin.post("/api/v1/members", {"identifier": "newcomer@example.test", "role": "operator"})
    assert invited.status_code == 202 and invited.json()["email"] == "newcomer@example.test" and invited.json()["role"] == "operator"
    assert not Membership.objects.filter(user=newcomer).exists()  # nobody joins without accepting
    invitation = Invitation.objects.get(email="newcomer@example.test")
    assert invitation.token in mail.outbox[-1].body
    client_for(newcomer).post(f"/invite/{invitation.token}/", {"action": "accept"})
    member_id = Membership.objects.get(user=newcomer, tenant=world.tenant).pk
    assert admin.patch(f"/api/v1/members/{member_id}", {"role": "editor"}).json()["role"] == "editor"
    assert admin.delete(f"/api/v1/members/{member_id}").status_code == 204
    assert not Membership.objects.filter(user=newcomer).exists()


def test_adding_an_existing_user_of_another_tenant_creates_an_invitation_and_no_membership(world):
    response = client_as(world, "owner").post("/api/v1/members", {"identifier": world.outsider.email, "role": "editor"})
    assert response.status_code == 202
    assert not Membership.objects.filter(user=world.outsider, tenant=world.tenant).exists()
    invitation = Invitation.objects.get(tenant=world.tenant, email=world.outsider.email)
    assert invitation.role == "editor" and invitation.is_open and invitation.accepted_at is None
    assert mail.outbox[-1].to == [world.outsider.email]


def test_the_answer_is_the_same_for_an_existing_and_an_unknown_address(world):
    admin = client_as(world, "admin")
    existing = admin.post("/api/v1/members", {"identifier": world.outsider.email, "role": "viewer"})
    unknown = admin.post("/api/v1/members", {"identifier": "nobody-here@example.test", "role": "viewer"})
    assert existing.status_code == unknown.status_code == 202
    assert existing["Content-Type"] == unknown["Content-Type"]
    one, other = existing.json(), unknown.json()
    assert one.keys() == other.keys() == {"email", "role", "expires_at"}
    assert (one["email"], other["email"]) == (world.outsider.email, "nobody-here@example.test")
    assert one["role"] == other["role"]
    # Even the e-mails are alike (apart from the link's token): nothing tells the two apart.
    tokens = dict(Invitation.objects.values_list("email", "token"))
    assert len({m.body.replace(tokens[m.to[0]], "TOKEN") for m in mail.outbox}) == 1


def test_a_username_is_not_accepted_as_the_address_to_invite(world):
    admin = client_as(world, "admin")
    for name in ("outsider", "no-such-user"):  # the answer cannot tell which one exists
        body = assert_problem(admin.post("/api/v1/members", {"identifier": name, "role": "viewer"}), 400)
        assert "identifier" in body["errors"]
    assert not Invitation.objects.exists()


def test_only_an_owner_hands_out_ownership_and_one_owner_stays(world):
    admin = client_as(world, "admin")
    viewer_membership = Membership.objects.get(user=world.viewer, tenant=world.tenant)
    assert_problem(admin.patch(f"/api/v1/members/{viewer_membership.pk}", {"role": "owner"}), 403)
    owner_membership = Membership.objects.get(user=world.owner, tenant=world.tenant)
    body = assert_problem(client_as(world, "owner").patch(f"/api/v1/members/{owner_membership.pk}", {"role": "viewer"}), 400)
    assert "owner" in body["errors"]["role"][0]
    assert "role" in assert_problem(admin.patch(f"/api/v1/members/{viewer_membership.pk}", {"role": "emperor"}), 400)["errors"]


def test_roles_are_listed_with_their_permissions(world):
    roles = {r["role"]: r["permissions"] for r in client_as(world, "viewer").get("/api/v1/roles").json()}
    assert roles["operator"] == ["view", "run"] and roles["viewer"] == ["view"] and "manage_members" in roles["admin"]


def test_an_api_key_is_shown_once_and_works_until_revoked(world):
    admin = client_as(world, "owner")
    created = admin.post("/api/v1/api-keys", {"name": "ci", "role": "operator", "user": world.operator.email})
    assert created.status_code == 201
    raw = created.json()["key"]
    assert raw.startswith("cos_") and created.json()["user"] == "operator-a" and created.json()["active"] is True
    key_id = created.json()["id"]
    listed = admin.get("/api/v1/api-keys").content.decode()
    assert raw not in listed and created.json()["prefix"] in listed
    assert "key" not in admin.get(f"/api/v1/api-keys/{key_id}").json()
    assert key_client(raw).get("/api/v1/executions").status_code == 200
    revoked = admin.post(f"/api/v1/api-keys/{key_id}/revoke")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert_problem(key_client(raw).get("/api/v1/executions"), 401)
    assert_problem(admin.post(f"/api/v1/api-keys/{key_id}/revoke"), 400)


def test_an_api_key_cannot_outrank_its_user(world):
    admin = client_as(world, "owner")
    body = assert_problem(admin.post("/api/v1/api-keys", {"name": "x", "role": "admin", "user": "viewer-a"}), 403)
    assert "above" in body["detail"]
    assert "user" in assert_problem(admin.post("/api/v1/api-keys", {"name": "x", "role": "viewer", "user": "outsider"}), 400)["errors"]
    past = "2001-01-01T00:00:00Z"
    assert "expires_at" in assert_problem(admin.post("/api/v1/api-keys", {"name": "x", "role": "viewer", "expires_at": past}), 400)["errors"]
    assert ApiKey.objects.count() == 1  # the owner's own test key


def test_a_key_with_an_admin_role_manages_keys_of_its_tenant_only(world):
    theirs = ApiKey.objects.get(prefix=make_key(world.other_tenant, world.outsider, "owner", actor=world.outsider)[:12])
    admin = client_as(world, "admin")
    assert_problem(admin.get(f"/api/v1/api-keys/{theirs.pk}"), 404)
    assert_problem(admin.post(f"/api/v1/api-keys/{theirs.pk}/revoke"), 404)
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
