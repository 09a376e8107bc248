"""Settings tabs: API keys (shown once), credentials (never shown), outbound allow-list, limits."""

from __future__ import annotations

import pytest

from circuits.tenancy.credentials import decrypt, save_credential
from circuits.tenancy.models.access import ApiKey, Credential
from circuits.tenancy.services.apikeys import CreateApiKey, find_key

pytestmark = pytest.mark.django_db
S = "/t/acme/settings/"


def test_every_settings_page_shows_the_five_tabs_with_the_current_one_marked(client_for, world):
    client = client_for(world.viewer)
    for path, label in (
        ("members/", "Members"),
        ("api-keys/", "API keys"),
        ("credentials/", "Credentials"),
        ("outbound/", "Outbound allow-list"),
        ("limits/", "Limits"),
    ):
        page = client.get(f"{S}{path}").content.decode()
        assert 'aria-label="Settings sections"' in page
        assert f'href="{S}{path}" aria-current="page">{label}</a>' in page


# --- API keys -----------------------------------------------------------------------------------


def test_a_new_api_key_is_shown_once_and_only_its_hash_is_kept(client_for, world):
    client = client_for(world.owner)
    response = client.post(f"{S}api-keys/", {"name": "CRM sync", "role": "operator", "user": str(world.operator.pk), "expires_on": "2999-01-01"})
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    raw = response.context["new_key"]
    assert raw.startswith("cos_") and raw in response.content.decode()
    key = ApiKey.objects.get()
    assert key.user == world.operator and key.role == "operator" and key.created_by == world.owner
    assert raw not in key.hashed_key and find_key(raw) == key
    again = client.get(f"{S}api-keys/").content.decode()
    assert raw not in again and f"{key.prefix}…" in again


def test_a_key_cannot_outrank_its_member(client_for, world):
    response = client_for(world.owner).post(f"{S}api-keys/", {"name": "too strong", "role": "admin", "user": str(world.viewer.pk)})
    assert response.status_code == 400 and "cannot have a role above theirs" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_an_admin_cannot_create_an_owner_key_from_the_settings_page(client_for, world):
    client = client_for(world.admin)
    form = client.get(f"{S}api-keys/").context["form"]
    assert "owner" not in dict(form.fields["role"].choices) and "admin" in dict(form.fields["role"].choices)
    response = client.post(f"{S}api-keys/", {"name": "mine", "role": "owner", "user": str(world.admin.pk)})
    assert response.status_code == 400 and "role" in response.context["form"].errors
    assert not ApiKey.objects.exists()


def test_an_admin_cannot_create_a_key_in_the_owners_name_from_the_settings_page(client_for, world):
    client = client_for(world.admin)
    assert list(dict(client.get(f"{S}api-keys/").context["form"].fields["user"].choices)) == [str(world.admin.pk)]
    for role in ("owner", "viewer"):
        response = client.post(f"{S}api-keys/", {"name": "borrowed", "role": role, "user": str(world.owner.pk)})
        assert response.status_code == 400 and "user" in response.context["form"].errors
    assert not ApiKey.objects.exists()


def test_an_owner_creates_a_key_for_another_member_from_the_page_capped_by_their_role(client_for, world):
    client = client_for(world.owner)
    assert str(world.editor.pk) in dict(client.get(f"{S}api-keys/").context["form"].fields["user"].choices)
    refused = client.post(f"{S}api-keys/", {"name": "too strong", "role": "owner", "user": str(world.editor.pk)})
    assert refused.status_code == 400 and "above theirs (editor)" in str(refused.context["form"].errors["role"])
    made = client.post(f"{S}api-keys/", {"name": "editor's", "role": "editor", "user": str(world.editor.pk)})
    assert made.status_code == 201
    assert ApiKey.objects.get().user == world.editor and ApiKey.objects.get().role == "editor"


def test_a_removed_members_keys_are_listed_as_revoked(client_for, world):
    from circuits.tenancy.models.tenants import Membership
    from circuits.tenancy.services.members import RemoveMember

    CreateApiKey(world.tenant, world.owner, name="operator's", role="operator", user=world.operator).execute()
    RemoveMember(world.tenant, world.owner, Membership.objects.get(user=world.operator, tenant=world.tenant)).execute()
    keys = client_for(world.owner).get(f"{S}api-keys/").context["keys"]
    assert [(k.name, k.state) for k in keys] == [("operator's", "revoked")]


def test_api_key_form_errors_name_the_field(client_for, world):
    response = client_for(world.admin).post(f"{S}api-keys/", {"name": "", "role": "viewer", "user": str(world.admin.pk), "expires_on": "2001-01-01"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "expires_on"}
    response = client_for(world.admin).post(f"{S}api-keys/", {"name": "x", "role": "viewer", "user": str(world.outsider.pk)})
    assert response.status_code == 400 and "user" in response.context["form"].errors  # not a member here


def test_revoking_a_key_and_the_key_list_columns(client_for, world):
    key = CreateApiKey(world.tenant, world.owner, name="old", role="viewer").execute()
    client = client_for(world.owner)
    assert client.post(f"{S}api-keys/{key.pk}/revoke").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    page = client.get(f"{S}api-keys/").content.decode()
    assert "revoked" in page and "never" in page  # never used, never expires


def test_another_tenants_key_cannot_be_revoked_from_here(client_for, world):
    theirs = CreateApiKey(world.other_tenant, world.outsider, name="theirs", role="viewer").execute()
    assert client_for(world.owner).post(f"{S}api-keys/{theirs.pk}/revoke").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_members_who_cannot_manage_settings_see_keys_read_only(client_for, world):
    CreateApiKey(world.tenant, world.owner, name="visible", role="viewer").execute()
    page = client_for(world.editor).get(f"{S}api-keys/").content.decode()
    assert "visible" in page and "Create key" not in page and "Revoke" not in page
    assert client_for(world.editor).post(f"{S}api-keys/", {"name": "x", "role": "viewer", "user": str(world.editor.pk)}).status_code == 403


# --- credentials --------------------------------------------------------------------------------


def test_saving_a_credential_encrypts_the_kinds_fields_and_never_echoes_the_secret(client_for, world):
    data = {
        "name": "mail",
        "kind": "smtp",
        "description": "Outgoing mail",
        "secret-smtp-host": "smtp.example.test",
        "secret-smtp-port": "2525",
        "secret-smtp-use_tls": "1",
        "secret-smtp-password": "hunter2-secret",
        "secret-slack_webhook-url": "https://ignored.example.test",  # another kind's box
    }
    client = client_for(world.admin)
    response = client.post(f"{S}credentials/", data, follow=True)
    credential = Credential.objects.get(tenant=world.tenant, name="mail")
    assert decrypt(credential.encrypted) == {"host": "smtp.example.test", "port": 2525, "use_tls": True, "password": "hunter2-secret"}
    page = response.content.decode()
    assert "hunter2-secret" not in page and "Its secret will not be shown again." in page and "Outgoing mail" in page


def test_saving_under_an_existing_name_replaces_the_secret(client_for, world):
    save_credential(world.tenant, "bot", "http_bearer", {"token": "old"})
    response = client_for(world.admin).post(f"{S}credentials/", {"name": "bot", "kind": "http_bearer", "secret-http_bearer-token": "new"}, follow=True)
    assert "replaced" in response.content.decode()
    assert decrypt(Credential.objects.get(name="bot").encrypted) == {"token": "new"}


def test_credential_errors_name_the_field_and_save_nothing(client_for, world):
    client = client_for(world.admin)
    response = client.post(f"{S}credentials/", {"name": "Bad Name", "kind": "http_bearer", "secret-http_bearer-token": "t"})
    assert response.status_code == 400 and "name: Use lowercase letters" in response.content.decode()
    response = client.post(f"{S}credentials/", {"name": "bot", "kind": "http_basic", "secret-http_basic-username": "u"})
    assert response.status_code == 400 and "Missing secret fields for http_basic: password" in response.content.decode()
    response = client.post(f"{S}credentials/", {"name": "bot", "kind": "smtp", "secret-smtp-host": "h", "secret-smtp-port": "twenty"})
    assert response.status_code == 400 and "port: &#x27;twenty&#x27; is not a whole number" in response.content.decode()
    response = client.post(f"{S}credentials/", {"name": "bot", "kind": "telepathy"})
    assert response.status_code == 400 and "Unknown credential kind" in response.content.decode()
    assert not Credential.objects.exists()


def test_deleting_a_credential_and_another_tenants_is_404(client_for, world):
    ours = save_credential(world.tenant, "ours", "http_bearer", {"token": "t"})
    theirs = save_credential(world.other_tenant, "theirs", "http_bearer", {"token": "t"})
    client = client_for(world.owner)
    assert client.post(f"{S}credentials/{theirs.pk}/delete").status_code == 404
    assert client.post(f"{S}credentials/{ours.pk}/delete").status_code == 302
    assert list(Credential.objects.values_list("name", flat=True)) == ["theirs"]


def test_the_credential_form_has_one_fieldset_per_kind(client_for, world):
    page = client_for(world.admin).get(f"{S}credentials/").content.decode()
    for kind in ("slack_webhook", "http_basic", "http_bearer", "http_header", "smtp", "webhook_secret"):
        assert f'data-kind="{kind}"' in page
    assert 'name="secret-http_basic-password"' in page and 'type="password"' in page


# --- allow-list and limits ----------------------------------------------------------------------


def test_saving_the_outbound_allow_list_one_entry_per_line(client_for, world):
    response = client_for(world.admin).post(f"{S}outbound/", {"outbound_allowlist": "crm.internal\n# comment\n\n10.0.0.0/8\nlocalhost:8080\n"})
    assert response.status_code == 302
    world.tenant.refresh_from_db()
    assert world.tenant.outbound_allowlist == ["crm.internal", "10.0.0.0/8", "localhost:8080"]
    assert "crm.internal\n10.0.0.0/8" in client_for(world.viewer).get(f"{S}outbound/").content.decode()


def test_a_bad_allow_list_entry_is_a_400_naming_it(client_for, world):
    response = client_for(world.admin).post(f"{S}outbound/", {"outbound_allowlist": "ok.internal\nnot a host!"})
    assert response.status_code == 400 and "cannot contain spaces" in response.content.decode()
    assert "not a host!" in response.content.decode()  # what was typed is kept
    world.tenant.refresh_from_db()
    assert world.tenant.outbound_allowlist == []


@pytest.mark.parametrize("entry", ["*.corp.example", "[::1]:8080", "bücher.example", "https://crm.internal"])
def test_the_allow_list_page_accepts_every_entry_the_outbound_guard_accepts(client_for, world, entry):
    response = client_for(world.admin).post(f"{S}outbound/", {"outbound_allowlist": f"ok.internal\n  {entry}  \n"})
    assert response.status_code == 302
    world.tenant.refresh_from_db()
    assert world.tenant.outbound_allowlist == ["ok.internal", entry]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [("host:99999", "port must be a number from 1 to 65535"), ("host:0", "from 1 to 65535"), ("*.", "not a valid host"), ("a..b", "not a valid host")],
)
def test_the_allow_list_page_refuses_what_the_guard_would_ignore_naming_it(client_for, world, entry, problem):
    response = client_for(world.admin).post(f"{S}outbound/", {"outbound_allowlist": f"ok.internal\n{entry}"})
    page = response.content.decode()
    assert response.status_code == 400 and problem in page and entry in page
    world.tenant.refresh_from_db()
    assert world.tenant.outbound_allowlist == []


def test_saving_limits_blank_means_default(client_for, world):
    response = client_for(world.admin).post(f"{S}limits/", {"max_steps": "200", "max_seconds": "2.5", "max_loop_iterations": ""})
    assert response.status_code == 302
    world.tenant.refresh_from_db()
    assert world.tenant.limits == {"max_steps": 200, "max_seconds": 2.5}
    page = client_for(world.viewer).get(f"{S}limits/").content.decode()
    assert 'value="200"' in page and 'placeholder="1000"' in page and "Save limits" not in page


def test_bad_limits_are_a_400_naming_the_limit(client_for, world):
    response = client_for(world.admin).post(f"{S}limits/", {"max_steps": "-3", "max_loop_iterations": "1.5", "max_seconds": "soon"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "max_loop_iterations: must be a whole number" in page and "max_seconds: &#x27;soon&#x27; is not a number" in page
    response = client_for(world.admin).post(f"{S}limits/", {"max_steps": "-3"})
    assert response.status_code == 400 and "max_steps: must be at least 1" in response.content.decode()
    world.tenant.refresh_from_db()
    assert world.tenant.limits == {}


def test_non_admins_get_403_on_every_settings_change(client_for, world):
    client = client_for(world.editor)
    assert client.post(f"{S}outbound/", {"outbound_allowlist": "x.internal"}).status_code == 403
    assert client.post(f"{S}limits/", {"max_steps": "5"}).status_code == 403
    assert client.post(f"{S}credentials/", {"name": "x", "kind": "http_bearer", "secret-http_bearer-token": "t"}).status_code == 403
    world.tenant.refresh_from_db()
    assert world.tenant.outbound_allowlist == [] and world.tenant.limits == {} and not Credential.objects.exists()
