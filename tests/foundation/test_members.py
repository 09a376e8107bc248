"""Owners and admins invite, re-role and remove members; the invited accept or decline; the rules hold."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from circuits.tenancy.models.tenants import Invitation, Membership
from circuits.tenancy.services.members import AcceptInvitation, AddMember, ChangeRole, DeclineInvitation, RemoveMember
from tests.fixtures import make_user

MEMBERS = "/t/acme/settings/members/"


def _invite(world, email: str, role: str = "operator", actor=None) -> Invitation:
    AddMember(world.tenant, actor or world.owner, email, role).execute()
    return Invitation.objects.get(tenant=world.tenant, email=email, accepted_at__isnull=True, declined_at__isnull=True)


def test_admin_invites_an_existing_user_who_joins_only_on_accepting(client_for, world):
    newcomer = make_user("newcomer")
    response = client_for(world.admin).post(MEMBERS, {"identifier": newcomer.email, "role": "operator"})
    assert response.status_code == 302
    assert not Membership.objects.filter(user=newcomer).exists()
    invitation = Invitation.objects.get(email=newcomer.email)
    client = client_for(newcomer)
    assert client.get("/t/acme/").status_code == 404  # not a member yet
    page = client.get(f"/invite/{invitation.token}/").content.decode()
    assert 'value="accept"' in page and 'value="decline"' in page
    assert client.post(f"/invite/{invitation.token}/", {"action": "accept"})["Location"] == "/t/acme/"
    assert Membership.objects.get(user=newcomer, tenant=world.tenant).role == "operator"
    assert client.get("/t/acme/").status_code == 200


def test_an_existing_user_of_another_tenant_is_invited_not_added(client_for, world):
    response = client_for(world.owner).post(MEMBERS, {"identifier": world.outsider.email, "role": "editor"}, follow=True)
    assert response.status_code == 200 and "Invitation sent to outsider@example.test" in response.content.decode()
    assert not Membership.objects.filter(user=world.outsider, tenant=world.tenant).exists()
    invitation = Invitation.objects.get(email=world.outsider.email)
    assert mail.outbox[-1].to == [world.outsider.email] and invitation.token in mail.outbox[-1].body
    client_for(world.outsider).post(f"/invite/{invitation.token}/", {"action": "accept"})
    assert Membership.objects.get(user=world.outsider, tenant=world.tenant).role == "editor"
    assert Membership.objects.get(user=world.outsider, tenant=world.other_tenant).role == "owner"  # their own tenant is untouched


def test_the_page_answers_alike_for_an_existing_and_an_unknown_address(client_for, world):
    client = client_for(world.admin)
    answers = []
    for address in (world.outsider.email, "nobody-here@example.test"):
        response = client.post(MEMBERS, {"identifier": address, "role": "viewer"})
        followed = client.get(response["Location"])
        shown = [str(m) for m in followed.context["messages"]]
        answers.append((response.status_code, response["Location"], [m.replace(address, "ADDRESS") for m in shown]))
    assert answers[0] == answers[1]
    assert answers[0][0] == 302 and "Invitation sent to ADDRESS" in answers[0][2][0]


def test_only_the_invited_user_can_accept(client_for, world):
    invitation = _invite(world, world.outsider.email, "editor")
    # Someone else who got hold of the link (even a member of the tenant) cannot use it.
    for intruder in (world.viewer, make_user("intruder")):
        client = client_for(intruder)
        assert client.get(f"/invite/{invitation.token}/").status_code == 403
        response = client.post(f"/invite/{invitation.token}/", {"action": "accept"})
        assert response.status_code == 403
    assert Membership.objects.get(user=world.viewer, tenant=world.tenant).role == "viewer"
    assert not Membership.objects.filter(user__username="intruder").exists()
    with pytest.raises(PermissionDenied):
        AcceptInvitation(invitation, world.viewer).execute()
    invitation.refresh_from_db()
    assert invitation.is_open
    # The addressee can.
    assert client_for(world.outsider).post(f"/invite/{invitation.token}/", {"action": "accept"}).status_code == 302
    assert Membership.objects.get(user=world.outsider, tenant=world.tenant).role == "editor"


def test_a_signed_in_user_declines_and_the_link_closes(client_for, world):
    invitation = _invite(world, world.outsider.email)
    client = client_for(world.outsider)
    assert client.post(f"/invite/{invitation.token}/", {"action": "decline"})["Location"] == "/"
    invitation.refresh_from_db()
    assert invitation.declined_at is not None and not invitation.is_open
    assert not Membership.objects.filter(user=world.outsider, tenant=world.tenant).exists()
    assert client.post(f"/invite/{invitation.token}/", {"action": "accept"}).status_code == 410
    assert not Membership.objects.filter(user=world.outsider, tenant=world.tenant).exists()
    with pytest.raises(ValidationError):
        DeclineInvitation(invitation, world.outsider).execute()


def test_the_link_of_an_address_with_an_account_asks_to_sign_in_and_makes_no_second_account(client, world):
    invitation = _invite(world, world.outsider.email)
    page = client.get(f"/invite/{invitation.token}/")
    assert page.status_code == 200 and "/accounts/login/?next=" in page.content.decode() and "Create account" not in page.content.decode()
    response = client.post(f"/invite/{invitation.token}/", {"username": "second-outsider", "password": "a-long-password-1"})
    assert response.status_code == 400
    assert not type(world.outsider).objects.filter(username="second-outsider").exists()
    assert not Membership.objects.filter(tenant=world.tenant, user__email=world.outsider.email).exists()


def test_an_invitation_from_someone_who_left_admits_nobody(client_for, world):
    invitation = _invite(world, world.outsider.email, "admin", actor=world.admin)
    RemoveMember(world.tenant, world.owner, Membership.objects.get(user=world.admin, tenant=world.tenant)).execute()
    response = client_for(world.outsider).post(f"/invite/{invitation.token}/", {"action": "accept"})
    assert response.status_code == 410 and "ask for a new invitation" in response.content.decode()
    assert not Membership.objects.filter(user=world.outsider, tenant=world.tenant).exists()


def test_inviting_again_replaces_the_open_invitation(world):
    first = _invite(world, "again@example.test", "viewer")
    second = _invite(world, "again@example.test", "editor")
    assert not Invitation.objects.filter(pk=first.pk).exists()
    assert second.role == "editor" and len(mail.outbox) == 2 and second.token in mail.outbox[-1].body


def test_an_admin_cannot_replace_an_owners_invitation(world):
    _invite(world, "future-owner@example.test", "owner")
    with pytest.raises(PermissionDenied, match="Only an owner"):
        AddMember(world.tenant, world.admin, "future-owner@example.test", "viewer").execute()
    assert Invitation.objects.get(email="future-owner@example.test").role == "owner"


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
    assert not Invitation.objects.exists()


def test_owner_cannot_manage_another_tenants_membership_by_id(client_for, world):
    foreign = Membership.objects.get(user=world.outsider)
    response = client_for(world.owner).post(f"/t/acme/settings/members/{foreign.pk}/", {"action": "remove"})
    assert response.status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


def test_removed_member_loses_access(client_for, world):
    membership = Membership.objects.get(user=world.editor, tenant=world.tenant)
    client_for(world.owner).post(f"/t/acme/settings/members/{membership.pk}/", {"action": "remove"})
    assert client_for(world.editor).get("/t/acme/").status_code == 404


def test_a_removed_members_keys_and_object_grants_go_with_the_membership(world):
    from guardian.shortcuts import assign_perm

    from circuits.automation.models.circuit import Circuit
    from circuits.tenancy.models.access import ApiKey
    from circuits.tenancy.permissions import has_perm
    from circuits.tenancy.services.apikeys import CreateApiKey

    key = CreateApiKey(world.tenant, world.owner, name="viewer's", role="viewer", user=world.viewer).execute()
    circuit = Circuit.objects.create(tenant=world.tenant, name="Shared", slug="shared")
    assign_perm("circuits.change_circuit", world.viewer, circuit)
    RemoveMember(world.tenant, world.owner, Membership.objects.get(user=world.viewer, tenant=world.tenant)).execute()
    key.refresh_from_db()
    assert key.revoked_at is not None
    Membership.objects.create(user=world.viewer, tenant=world.tenant, role="viewer")
    viewer = type(world.viewer).objects.get(pk=world.viewer.pk)
    assert not has_perm(viewer, world.tenant, "edit", circuit)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
