"""Tenant pages: access for every role, 404 for outsiders, and what the pages do."""

from __future__ import annotations

from circuits.automation.models.circuit import Circuit
from circuits.tenancy.models.tenants import Invitation, Membership
from tests.access import Page, TenantAccessSuite


def _circuit(world) -> Circuit:
    return Circuit.objects.get_or_create(tenant=world.tenant, slug="welcome", defaults={"name": "Welcome"})[0]


class TestTenantPageAccess(TenantAccessSuite):
    pages = [
        Page("overview", lambda w: f"/t/{w.tenant.slug}/"),
        Page("circuits", lambda w: f"/t/{w.tenant.slug}/circuits/"),
        Page("members", lambda w: f"/t/{w.tenant.slug}/settings/members/"),
        Page(
            "create-circuit",
            lambda w: f"/t/{w.tenant.slug}/circuits/",
            perm="edit",
            method="post",
            data=lambda w: {"name": f"New {Circuit.objects.count()}", "slug": f"new-{Circuit.objects.count()}", "enabled": "on"},
        ),
        Page("toggle-circuit", lambda w: f"/t/{w.tenant.slug}/circuits/{_circuit(w).slug}/toggle", perm="run", method="post"),
        Page(
            "add-member",
            lambda w: f"/t/{w.tenant.slug}/settings/members/",
            perm="manage_members",
            method="post",
            data=lambda w: {"identifier": f"new{Invitation.objects.count()}@example.test", "role": "viewer"},
        ),
    ]


def test_viewer_trying_to_create_a_circuit_gets_403_with_a_clear_message(client_for, world):
    response = client_for(world.viewer).post(f"/t/{world.tenant.slug}/circuits/", {"name": "Nope", "slug": "nope"})
    assert response.status_code == 403
    assert b"does not allow you to edit" in response.content
    assert not Circuit.objects.filter(slug="nope").exists()


def test_home_redirects_to_the_users_tenant(client_for, world):
    response = client_for(world.editor).get("/")
    assert response.status_code == 302 and response["Location"] == "/t/acme/"


def test_user_of_several_tenants_sees_both_in_the_switcher(client_for, world):
    Membership.objects.create(user=world.editor, tenant=world.other_tenant, role="viewer")
    client = client_for(world.editor)
    page = client.get("/t/globex/").content.decode()
    assert 'id="tenant-switcher"' in page and "/t/acme/" in page and "/t/globex/" in page
    assert client.get("/").headers["Location"] == "/t/globex/"  # remembers the last tenant used


def test_outsider_cannot_see_or_toggle_another_tenants_circuit(client_for, world):
    circuit = _circuit(world)
    client = client_for(world.outsider)
    assert client.get("/t/acme/circuits/").status_code == 404
    assert client.post(f"/t/acme/circuits/{circuit.slug}/toggle", {}).status_code == 404
    circuit.refresh_from_db()
    assert circuit.enabled


def test_circuit_list_only_shows_this_tenants_circuits(client_for, world):
    Circuit.objects.create(tenant=world.tenant, name="Ours", slug="ours")
    Circuit.objects.create(tenant=world.other_tenant, name="Theirs", slug="theirs")
    page = client_for(world.viewer).get("/t/acme/circuits/").content.decode()
    assert "Ours" in page and "Theirs" not in page


def test_htmx_search_renders_only_the_rows_partial(client_for, world):
    Circuit.objects.create(tenant=world.tenant, name="Lead scoring", slug="lead-scoring")
    Circuit.objects.create(tenant=world.tenant, name="Invoices", slug="invoices")
    response = client_for(world.viewer).get("/t/acme/circuits/?q=lead", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and "Lead scoring" in body and "Invoices" not in body


def test_creating_a_circuit_with_a_duplicate_slug_names_the_field(client_for, world):
    client = client_for(world.editor)
    assert client.post("/t/acme/circuits/", {"name": "A", "slug": "dup"}).status_code == 302
    response = client.post("/t/acme/circuits/", {"name": "B", "slug": "dup"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Circuit.objects.filter(slug="dup").count() == 1


def test_sign_in_with_email_and_sign_out(client, world):
    response = client.post("/accounts/login/", {"username": "editor-a@example.test", "password": "pw-for-tests-123"})
    assert response.status_code == 302
    assert client.get("/t/acme/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/t/acme/").status_code == 302


def test_error_pages_render_with_layout(client_for, world):
    response = client_for(world.owner).get("/t/acme/no-such-page/")
    assert response.status_code == 404 and b"Not found" in response.content
