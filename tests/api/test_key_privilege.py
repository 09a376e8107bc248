"""Privilege is the actor's: what a key may carry, who may make it, and how long it lives (issue #8, 2 and 9)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from circuits.automation.models.circuit import Circuit
from circuits.tenancy.models.access import ApiKey
from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.services.apikeys import CreateApiKey
from tests.api.access import assert_problem
from tests.api.helpers import client_as, key_client, make_key, session_client, simple_circuit

KEYS = "/api/v1/api-keys"


def _membership(world, role: str) -> Membership:
    return Membership.objects.get(tenant=world.tenant, user=world.user(role))


def _key_with_expiry(world, user, role: str, expires_at) -> str:
    """A raw key created by an owner, expiring at `expires_at`."""
    service = CreateApiKey(world.tenant, world.owner, name=f"expiring-{role}", role=role, user=user, expires_at=expires_at)
    service.execute()
    return service.raw_key


# --- who may create which key ----------------------------------------------------------------


def test_an_admin_cannot_create_an_owner_key(world):
    clients = (client_as(world, "admin"), session_client(world.admin))
    before = ApiKey.objects.count()
    for client in clients:
        body = assert_problem(client.post(KEYS, {"name": "mine", "role": "owner"}), 403)
        assert "admin" in body["detail"] and "owner" in body["detail"]
    assert ApiKey.objects.count() == before


def test_an_admin_cannot_create_any_key_in_the_owners_name(world):
    admin = client_as(world, "admin")
    before = ApiKey.objects.count()
    for role in ("owner", "admin", "viewer"):
        body = assert_problem(admin.post(KEYS, {"name": "borrowed", "role": role, "user": world.owner.email}), 403)
        assert "Only an owner" in body["detail"]
    assert_problem(session_client(world.admin).post(KEYS, {"name": "borrowed", "role": "viewer", "user": "owner-a"}), 403)
    assert not ApiKey.objects.filter(user=world.owner).exclude(created_by=world.owner).exists()
    assert ApiKey.objects.count() == before


def test_the_admin_to_owner_attack_fails_at_every_step(world):
    """Finding 2 as reported: the admin mints an owner key in the owner's name, then promotes himself."""
    admin = client_as(world, "admin")
    assert_problem(admin.post(KEYS, {"name": "x", "role": "owner", "user": world.owner.email}), 403)
    assert_problem(admin.post(KEYS, {"name": "x", "role": "owner"}), 403)
    assert_problem(admin.patch(f"/api/v1/members/{_membership(world, 'admin').pk}", {"role": "owner"}), 403)
    assert _membership(world, "admin").role == "admin"


def test_an_owner_key_held_by_an_admin_acts_as_admin(world):
    """A key row above its user (made before the fix) is capped by rank, not by equal permission sets."""
    raw = "cos_" + "legacyOwnerKeyOfAnAdmin0123456789abcdefghij"
    from circuits.tenancy.services.apikeys import hash_key

    ApiKey.objects.create(tenant=world.tenant, name="legacy", prefix=raw[:12], hashed_key=hash_key(raw), role="owner", user=world.admin)
    client = key_client(raw)
    assert client.get("/api/v1/members").status_code == 200  # still an admin key
    body = assert_problem(client.patch(f"/api/v1/members/{_membership(world, 'admin').pk}", {"role": "owner"}), 403)
    assert "owner" in body["detail"]
    assert _membership(world, "admin").role == "admin"


def test_an_owner_may_create_a_key_for_another_member_capped_by_that_members_role(world):
    owner = client_as(world, "owner")
    created = owner.post(KEYS, {"name": "for the editor", "role": "editor", "user": world.editor.email})
    assert created.status_code == 201 and created.json()["user"] == "editor-a" and created.json()["role"] == "editor"
    assert key_client(created.json()["key"]).post("/api/v1/circuits", {"name": "By editor key"}).status_code == 201
    for too_high in ("admin", "owner"):
        body = assert_problem(owner.post(KEYS, {"name": "too strong", "role": too_high, "user": world.editor.email}), 403)
        assert "above theirs (editor)" in body["detail"]
    assert ApiKey.objects.filter(user=world.editor, role__in=["admin", "owner"]).count() == 0


def test_a_key_authenticated_actor_cannot_mint_a_key_above_its_own_keys_role(world):
    # The owner signs in with a key capped at admin: that key acts as an admin, not an owner.
    admin_key_of_owner = key_client(make_key(world.tenant, world.owner, "admin"))
    body = assert_problem(admin_key_of_owner.post(KEYS, {"name": "escalate", "role": "owner"}), 403)
    assert "act as admin" in body["detail"]
    # Nor may it make keys for others, which only an owner does.
    assert_problem(admin_key_of_owner.post(KEYS, {"name": "other", "role": "viewer", "user": world.viewer.email}), 403)
    made = admin_key_of_owner.post(KEYS, {"name": "same or lower", "role": "admin"})
    assert made.status_code == 201 and made.json()["role"] == "admin"
    assert ApiKey.objects.filter(user=world.owner, role="owner").count() == 0


def test_a_key_that_expires_cannot_mint_a_key_that_outlives_it(world):
    """Finding 9: a key expiring in 20 s minted a key with no expiry that outlived it."""
    soon = timezone.now() + timedelta(seconds=20)
    client = key_client(_key_with_expiry(world, world.admin, "admin", soon))
    body = assert_problem(client.post(KEYS, {"name": "forever", "role": "viewer"}), 403)
    assert "expires_at" in body["detail"]
    assert_problem(client.post(KEYS, {"name": "forever", "role": "viewer", "expires_at": None}), 403)
    later = (soon + timedelta(days=1)).isoformat()
    assert "expires_at" in assert_problem(client.post(KEYS, {"name": "later", "role": "viewer", "expires_at": later}), 403)["detail"]
    earlier = soon - timedelta(seconds=5)
    made = client.post(KEYS, {"name": "shorter", "role": "viewer", "expires_at": earlier.isoformat()})
    assert made.status_code == 201
    assert ApiKey.objects.get(pk=made.json()["id"]).expires_at <= soon
    assert not ApiKey.objects.filter(created_by=world.admin, expires_at__isnull=True).exclude(name__startswith="test-").exists()


def test_a_session_may_still_create_a_key_without_expiry(world):
    made = session_client(world.admin).post(KEYS, {"name": "no expiry", "role": "admin"})
    assert made.status_code == 201 and made.json()["expires_at"] is None


# --- superusers --------------------------------------------------------------------------------


def test_a_superuser_members_viewer_key_cannot_edit_publish_or_delete(world):
    circuit = simple_circuit(world, "greeter")
    world.viewer.is_superuser = world.viewer.is_staff = True
    world.viewer.save(update_fields=["is_superuser", "is_staff"])
    for client in (key_client(make_key(world.tenant, world.viewer, "viewer")), session_client(world.viewer)):
        assert client.get("/api/v1/circuits/greeter").status_code == 200
        assert_problem(client.patch("/api/v1/circuits/greeter", {"description": "changed"}), 403)
        assert_problem(client.post("/api/v1/circuits/greeter/publish", {"note": "x"}), 403)
        assert_problem(client.post("/api/v1/circuits/greeter/disable"), 403)
        assert_problem(client.delete("/api/v1/circuits/greeter"), 403)
    circuit.refresh_from_db()
    assert circuit.description == "" and circuit.enabled and Circuit.objects.filter(pk=circuit.pk).exists()


def test_a_superuser_owner_key_with_the_viewer_role_is_a_viewer_key(world):
    simple_circuit(world, "greeter")
    world.owner.is_superuser = True
    world.owner.save(update_fields=["is_superuser"])
    client = key_client(make_key(world.tenant, world.owner, "viewer"))
    assert_problem(client.patch("/api/v1/circuits/greeter", {"description": "changed"}), 403)
    assert_problem(client.delete("/api/v1/circuits/greeter"), 403)
    assert_problem(client.post(KEYS, {"name": "x", "role": "viewer"}), 403)


# --- the membership lifecycle ------------------------------------------------------------------


def test_demoting_a_member_caps_their_existing_keys_at_once(world):
    raw = make_key(world.tenant, world.editor, "editor")
    key = ApiKey.objects.get(prefix=raw[:12])
    client = key_client(raw)
    assert client.post("/api/v1/circuits", {"name": "Before"}).status_code == 201
    owner = client_as(world, "owner")
    assert owner.patch(f"/api/v1/members/{_membership(world, 'editor').pk}", {"role": "viewer"}).status_code == 200
    assert_problem(client.post("/api/v1/circuits", {"name": "After"}), 403)
    listed = {k["id"]: k for k in owner.get(KEYS).json()["results"]}
    assert listed[key.pk]["role"] == "viewer"
    # Promoting them again does not bring the key's old role back.
    assert owner.patch(f"/api/v1/members/{_membership(world, 'editor').pk}", {"role": "editor"}).status_code == 200
    assert_problem(client.post("/api/v1/circuits", {"name": "Again"}), 403)


def test_a_removed_members_keys_are_revoked_listed_as_revoked_and_stay_dead_when_re_added(world, client_for):
    raw = make_key(world.tenant, world.operator, "operator")
    key = ApiKey.objects.get(prefix=raw[:12])
    assert key_client(raw).get("/api/v1/executions").status_code == 200
    owner = client_as(world, "owner")
    assert owner.delete(f"/api/v1/members/{_membership(world, 'operator').pk}").status_code == 204
    key.refresh_from_db()
    assert key.revoked_at is not None
    listed = {k["id"]: k for k in owner.get(KEYS).json()["results"]}
    assert listed[key.pk]["active"] is False and listed[key.pk]["revoked_at"] is not None
    assert "revoked" in client_for(world.owner).get("/t/acme/settings/api-keys/").content.decode()
    # Re-added with a higher role (invited, and accepted): the old key stays dead.
    assert owner.post("/api/v1/members", {"identifier": world.operator.email, "role": "admin"}).status_code == 202
    from circuits.tenancy.models.tenants import Invitation

    invitation = Invitation.objects.get(tenant=world.tenant, email=world.operator.email)
    assert client_for(world.operator).post(f"/invite/{invitation.token}/", {"action": "accept"}).status_code == 302
    assert _membership(world, "operator").role == "admin"
    assert_problem(key_client(raw).get("/api/v1/executions"), 401)
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_a_key_older_than_its_users_membership_does_not_work(world):
    """A membership deleted and re-created outside the services (admin site, shell) does not revive old keys."""
    raw = make_key(world.tenant, world.editor, "editor")
    Membership.objects.filter(tenant=world.tenant, user=world.editor).delete()
    Membership.objects.create(tenant=world.tenant, user=world.editor, role="admin")
    body = assert_problem(key_client(raw).get("/api/v1/circuits"), 401)
    assert "no longer a member" in body["detail"]
    assert key_client(make_key(world.tenant, world.editor, "editor")).get("/api/v1/circuits").status_code == 200
