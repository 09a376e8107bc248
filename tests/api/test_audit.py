"""The audit trail: every change through the services is recorded with its actor, before and after.

Before: who published (an editor publishing the owner's draft showed the owner), rolled back,
changed credentials, members or keys was not recorded anywhere. Now each service writes an
entry in its own transaction; `GET /api/v1/audit` shows the tenant's, newest first, to owners
and admins; entries cannot be changed or deleted and never hold a credential's secret.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from circuits.automation.models.circuit import Circuit
from circuits.automation.services.tenant_settings import SaveCredential, UpdateTenantSettings
from circuits.automation.services.versions import SaveDraft
from circuits.tenancy.models.audit import AppendOnly, AuditEntry
from circuits.tenancy.models.tenants import Invitation, Membership
from tests.api.access import assert_problem
from tests.api.helpers import key_client, make_key, session_client, simple_circuit
from tests.engine.helpers import chain, node
from tests.fixtures import make_user

SECRET = "xoxb-credential-secret-never-in-the-trail"


@pytest.fixture
def admin(world):
    return key_client(make_key(world.tenant, world.admin, "admin", name="admin-key"))


def entries(admin, **query) -> list[dict]:
    response = admin.get("/api/v1/audit", query)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def drafted(world) -> Circuit:
    """A circuit the owner published once and then drafted a second version of."""
    circuit = simple_circuit(world, "lead-scoring", actor=world.owner)
    SaveDraft(world.tenant, world.owner, circuit, {"nodes": [node("greet", "util.transform", {"template": "v2"})], "edges": chain("greet")}).execute()
    return circuit


def test_an_editor_publishing_the_owners_draft_is_recorded_as_the_editors_through_their_key(world, admin):
    drafted(world)
    editor = key_client(make_key(world.tenant, world.editor, "editor", name="ci-deploy"))
    assert editor.post("/api/v1/circuits/lead-scoring/publish", {"note": "ship it"}).status_code == 200

    # Newest first: the editor's publish of version 2, then the owner's of version 1.
    entry, first = entries(admin, action="version.published")
    assert first["actor"] == "owner-a" and first["after"]["number"] == 1
    assert entry["actor"] == "editor-a (API key ci-deploy)"
    assert (entry["actor_user"], entry["actor_key"]) == ("editor-a", "ci-deploy")
    assert entry["object_type"] == "version" and entry["object_repr"]
    assert (entry["before"]["number"], entry["before"]["status"]) == (2, "draft")
    assert (entry["after"]["status"], entry["after"]["note"]) == ("published", "ship it")
    assert entry["after"]["created_by_id"] == world.owner.pk  # the owner drafted it; the editor published it
    assert entry["request_id"]


def test_a_publish_and_rollback_from_the_browser_session_name_the_user_and_no_key(world, admin):
    drafted(world)
    session = session_client(world.editor, "acme")
    assert session.post("/api/v1/circuits/lead-scoring/publish", {}).status_code == 200
    assert session.post("/api/v1/circuits/lead-scoring/rollback", {"version": 1}).status_code == 200
    rolled, published = entries(admin, object_type="version")[:2]
    assert (rolled["action"], published["action"]) == ("version.rolled_back", "version.published")
    assert rolled["actor"] == "editor-a" and rolled["actor_key"] is None
    assert (rolled["before"]["number"], rolled["before"]["status"], rolled["after"]["status"]) == (1, "archived", "published")


def test_credential_entries_say_what_changed_and_never_hold_the_secret(world, admin):
    assert admin.post("/api/v1/credentials", {"name": "slack", "kind": "http_bearer", "secret": {"token": SECRET}}).status_code == 201
    SaveCredential(world.tenant, world.owner, name="slack", kind="http_bearer", secret={"token": SECRET + "-2"}, description="rotated").execute()
    assert admin.delete("/api/v1/credentials/slack").status_code == 204
    deleted, replaced, created = entries(admin, object_type="credential")
    assert [created["action"], replaced["action"], deleted["action"]] == ["credential.saved", "credential.saved", "credential.deleted"]
    assert created["before"] is None and created["after"]["name"] == "slack" and created["after"]["kind"] == "http_bearer"
    assert replaced["before"]["description"] == "" and replaced["after"]["description"] == "rotated"
    assert deleted["after"] is None and deleted["object_id"] == str(created["after"]["id"])
    stored = json.dumps(list(AuditEntry.objects.values("before", "after", "object_repr")))
    assert SECRET not in stored and "encrypted" not in stored


def test_members_roles_keys_and_tenant_settings_are_recorded_with_before_and_after(world, admin):
    membership = Membership.objects.get(tenant=world.tenant, user=world.viewer)
    assert admin.patch(f"/api/v1/members/{membership.pk}", {"role": "operator"}).status_code == 200
    created = admin.post("/api/v1/api-keys", {"name": "nightly", "role": "viewer"})
    assert created.status_code == 201
    UpdateTenantSettings(world.tenant, world.owner, outbound_allowlist=["api.example.com"]).execute()

    (role,) = entries(admin, action="member.role_changed")
    assert (role["before"]["role"], role["after"]["role"], role["object_id"]) == ("viewer", "operator", str(membership.pk))
    key = entries(admin, action="api_key.created")[0]  # the newest: the admin's own key came first
    assert key["after"]["name"] == "nightly" and "hashed_key" not in key["after"]
    assert created.json()["key"] not in json.dumps(key)
    (tenant,) = entries(admin, action="tenant.settings_changed")
    assert (tenant["before"]["outbound_allowlist"], tenant["after"]["outbound_allowlist"]) == ([], ["api.example.com"])
    assert tenant["actor"] == "owner-a"


def test_a_refused_change_records_nothing(world, admin):
    before = AuditEntry.objects.count()
    with pytest.raises(ValidationError):
        UpdateTenantSettings(world.tenant, world.owner, outbound_allowlist=["not a host!"]).execute()
    assert_problem(admin.post("/api/v1/circuits/greeter/publish", {}), 404)
    assert AuditEntry.objects.count() == before


def test_entries_are_append_only(world, admin):
    UpdateTenantSettings(world.tenant, world.owner, name="Acme Inc").execute()
    entry = AuditEntry.objects.for_tenant(world.tenant).get(action="tenant.settings_changed")
    entry.actor = "someone else"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.for_tenant(world.tenant).update(actor="someone else")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.for_tenant(world.tenant).delete()
    assert AuditEntry.objects.get(pk=entry.pk).actor == "owner-a"
    # The API reads only.
    assert admin.delete("/api/v1/audit").status_code == 405
    assert admin.post("/api/v1/audit", {}).status_code == 405


def test_only_owners_and_admins_read_the_trail_and_only_their_tenants(world, admin):
    simple_circuit(world, "theirs", tenant=world.other_tenant, actor=world.outsider)
    simple_circuit(world, "ours")
    assert AuditEntry.objects.for_tenant(world.other_tenant).filter(action="circuit.created", object_repr__icontains="theirs").exists()
    ours = entries(admin, action="circuit.created")
    assert ours and all("theirs" not in e["object_repr"] for e in ours)
    assert entries(admin, object_id=str(Circuit.objects.get(slug="theirs").pk), object_type="circuit") == []
    for role in ("editor", "operator", "viewer"):
        assert_problem(key_client(make_key(world.tenant, world.user(role), role)).get("/api/v1/audit"), 403)


def test_the_audit_page_shows_the_editors_publish_and_filters_by_actor_and_object(world, client_for):
    drafted(world)
    session_client(world.editor, "acme").post("/api/v1/circuits/lead-scoring/publish", {"note": "ship it"})
    page = client_for(world.admin).get("/t/acme/settings/audit/", {"actor": "editor-a", "object_type": "version"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "version.published" in body and "editor-a" in body and "ship it" in body
    assert "circuit.created" not in body  # the owner's earlier entries are filtered out
    assert "owner-a" not in body.split("<tbody>")[1]
    everything = client_for(world.owner).get("/t/acme/settings/audit/").content.decode()
    assert "circuit.created" in everything and "Audit log" in everything


def test_a_deleted_user_or_key_leaves_their_entries_with_the_label(world, admin):
    actor = key_client(make_key(world.tenant, world.editor, "editor", name="doomed-key"))
    assert actor.post("/api/v1/circuits", {"name": "Kept", "slug": "kept"}).status_code == 201
    entry = AuditEntry.objects.for_tenant(world.tenant).get(action="circuit.created", object_repr__icontains="kept")
    assert entry.actor == "editor-a (API key doomed-key)"
    entry.actor_key.delete()
    world.editor.delete()
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert (entry.actor_user_id, entry.actor_key_id, entry.actor) == (None, None, "editor-a (API key doomed-key)")


def test_an_invitation_and_the_join_are_recorded_without_the_invitation_token(world, client_for, admin):
    newcomer = make_user("newcomer")
    assert client_for(world.admin).post("/t/acme/settings/members/", {"identifier": newcomer.email, "role": "operator"}).status_code == 302
    invitation = Invitation.objects.get(email=newcomer.email)
    assert client_for(newcomer).post(f"/invite/{invitation.token}/", {"action": "accept"}).status_code == 302
    joined, invited = entries(admin, object_type="member")[:2]
    assert (invited["action"], invited["actor"], invited["after"]["role"]) == ("member.invited", "admin-a", "operator")
    assert (joined["action"], joined["actor"], joined["after"]["role"], joined["after"]["user_id"]) == ("member.joined", "newcomer", "operator", newcomer.pk)
    assert invitation.token not in json.dumps(list(AuditEntry.objects.values("before", "after", "object_repr")))
