"""The failure policy on pages (#15): a circuit's own form and the tenant default under Settings."""

from __future__ import annotations

import pytest

from circuits.automation.models.circuit import Circuit
from circuits.tenancy.credentials import save_credential
from tests.pages.helpers import circuit

pytestmark = pytest.mark.django_db


def test_the_tenant_default_is_saved_from_settings_and_shown_again(world, client_for):
    save_credential(world.tenant, "ops-alerts", "slack_webhook", {"url": "https://hooks.slack.com/services/T/B/x"})
    client = client_for(world.admin)
    page = client.get("/t/acme/settings/on-failure/")
    assert page.status_code == 200 and b'aria-current="page">On failure' in page.content and b"ops-alerts" in page.content
    form = {"notify_admins": "1", "notify_members": "editor-a", "emails": world.viewer.email, "slack": "ops-alerts", "digest_minutes": "30"}
    assert client.post("/t/acme/settings/on-failure/", form).status_code == 302
    world.tenant.refresh_from_db()
    assert world.tenant.on_failure == {"notify": ["admins", "editor-a"], "emails": [world.viewer.email], "slack": "ops-alerts", "digest_minutes": 30}
    shown = client.get("/t/acme/settings/on-failure/").content.decode()
    assert 'value="editor-a"' in shown and '<option value="ops-alerts" selected>' in shown


def test_a_bad_address_on_the_settings_page_is_shown_and_nothing_is_saved(world, client_for):
    response = client_for(world.owner).post("/t/acme/settings/on-failure/", {"notify_owner": "1", "emails": "stranger@example.com"})
    assert response.status_code == 400
    assert b"emails: stranger@example.com is not the address of a member" in response.content
    assert b'value="stranger@example.com"' in response.content  # what was typed stays in the box
    world.tenant.refresh_from_db()
    assert world.tenant.on_failure == {}


def test_a_circuits_own_policy_is_saved_and_can_go_back_to_the_default(world, client_for):
    target = circuit(world)
    circuit(world, "on-error")
    client = client_for(world.editor)
    page = client.get(f"/t/acme/circuits/{target.slug}/on-failure/").content.decode()
    assert "The tenant's default" in page and 'value="on-error"' in page and f'value="{target.slug}"' not in page.split("failure-circuit")[1]
    form = {"mode": "own", "notify_owner": "1", "error_circuit": "on-error", "digest_minutes": "0"}
    assert client.post(f"/t/acme/circuits/{target.slug}/on-failure/", form).status_code == 302
    target.refresh_from_db()
    assert target.on_failure == {"notify": ["owner"], "error_circuit": "on-error", "digest_minutes": 0}
    assert client.post(f"/t/acme/circuits/{target.slug}/on-failure/", {"mode": "default"}).status_code == 302
    target.refresh_from_db()
    assert target.on_failure is None


def test_a_circuit_cannot_be_its_own_error_circuit_on_the_page_either(world, client_for):
    target = circuit(world)
    response = client_for(world.editor).post(f"/t/acme/circuits/{target.slug}/on-failure/", {"mode": "own", "error_circuit": target.slug})
    assert response.status_code == 400 and b"cannot be its own error circuit" in response.content
    assert Circuit.objects.get(pk=target.pk).on_failure is None


def test_the_builder_links_to_the_circuits_failure_handling(world, client_for):
    target = circuit(world)
    page = client_for(world.viewer).get(f"/t/acme/circuits/{target.slug}/edit").content.decode()
    assert f'href="/t/acme/circuits/{target.slug}/on-failure/"' in page


def test_another_tenants_circuit_has_no_failure_page_here(world, client_for):
    from tests.pages.helpers import other_tenant_execution

    theirs = other_tenant_execution(world).circuit
    client = client_for(world.owner)
    assert client.get(f"/t/acme/circuits/{theirs.slug}/on-failure/").status_code == 404
    assert client.post(f"/t/acme/circuits/{theirs.slug}/on-failure/", {"mode": "own", "notify_owner": "1"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.on_failure is None
