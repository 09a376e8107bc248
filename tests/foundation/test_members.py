"""Owners and admins add, invite, re-role and remove members; the rules hold."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from circuits.models import Invitation, Membership
from circuits.services.members import AddMember, ChangeRole, RemoveMember
from tests.fixtures import make_user


def test_admin_adds_an_existing_user_by_email(client_for, world):
    newcomer = make_user("newcomer")
    response = client_for(world.admin).post("/t/acme/settings/members/", {"identifier": newcomer.email, "role": "operator"})
    assert response.status_code == 302
    assert Membership.objects.get(user=newcomer, tenant=world.tenant).role == "operator"
    assert client_for(newcomer).get("/t/acme/").status_code == 200


def test_inviting_an_unknown_address_emails_a_link_that_creates_the_account(client, client_for, world):
    client_for(world.owner).post("/t/acme/settings/members/", {"identifier": "fresh@example.test", "role": "editor"})
    invitation = Invitation.objects.get(email="fresh@example.test")
    assert len(mail.outbox) == 1 and invitation.token in mail.outbox[0].body
    client.logout()
    response = client.post(f"/invite/{invitation.token}/", {"username": "fresh", "password": "a-long-password-1"})
    assert response.status_code == 302 and response["Location"] == "/t/acme/"
    assert Membership.objects.get(user__username="fresh", tenant=world.tenant).role == "editor"
    # The link works once.
    client.logout()
    assert client.get(f"/invite/{invitation.token}/").status_code == 410


def test_owner_changes_a_role_from_the_ui(client_for, world):
    membership = Membership.objects.get(user=world.viewer, tenant=world.tenant)
    client_for(world.owner).post(f"/t/acme/settings/members/{membership.pk}/", {"role": "editor", "action": "role"})
    membership.refresh_from_db()
    assert membership.role == "editor"


def test_editor_cannot_change_roles(client_for, world):
    membership = Membership.objects.get(user=world.viewer, tenant=world.tenant)
    response = client_for(world.editor).post(f"/t/acme/settings/members/{membership.pk}/", {"role": "owner", "action": "role"})
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.role == "viewer"


def test_admin_cannot_make_someone_owner(world):
    membership = Membership.objects.get(user=world.viewer, tenant=world.tenant)
    with pytest.raises(PermissionDenied, match="Only an owner"):
        ChangeRole(world.tenant, world.admin, membership, "owner").execute()


def test_the_last_owner_cannot_be_demoted_or_removed(world):
    membership = Membership.objects.get(user=world.owner, tenant=world.tenant)
    with pytest.raises(ValidationError, match="at least one owner"):
        ChangeRole(world.tenant, world.owner, membership, "viewer").execute()
    with pytest.raises(ValidationError, match="at least one owner"):
        RemoveMember(world.tenant, world.owner, membership).execute()


def test_unknown_role_is_a_validation_error_naming_the_field(world):
    with pytest.raises(ValidationError) as caught:
        AddMember(world.tenant, world.owner, "x@example.test", "superhero").execute()
    assert "role" in caught.value.message_dict


def test_adding_an_existing_member_again_is_refused(world):
    with pytest.raises(ValidationError, match="already a member"):
        AddMember(world.tenant, world.owner, world.viewer.email, "viewer").execute()


def test_owner_cannot_manage_another_tenants_membership_by_id(client_for, world):
    foreign = Membership.objects.get(user=world.outsider)
    response = client_for(world.owner).post(f"/t/acme/settings/members/{foreign.pk}/", {"action": "remove"})
    assert response.status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


def test_removed_member_loses_access(client_for, world):
    membership = Membership.objects.get(user=world.editor, tenant=world.tenant)
    client_for(world.owner).post(f"/t/acme/settings/members/{membership.pk}/", {"action": "remove"})
    assert client_for(world.editor).get("/t/acme/").status_code == 404
