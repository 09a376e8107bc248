"""One resolver of the request's tenant (circuits/tenancy/resolve.py), failing closed, used by pages, the API and WebSockets
(their close codes for the same cases: tests/http/test_websockets.py); one conversion of a service's ValidationError
into form errors (circuits/web/views/form_errors.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from circuits.tenancy.permissions import role_of
from circuits.tenancy.resolve import TenantNotFound, member_tenant
from circuits.web.views.form_errors import apply_errors, error_dict, error_messages
from tests.api.helpers import session_client

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_a_member_gets_the_tenant_and_the_role_they_hold_there(world):
    assert member_tenant(world.editor, "acme") == world.tenant
    assert role_of(world.editor, world.tenant) == "editor"


@pytest.mark.parametrize("slug", ["globex", "no-such-tenant", "", "ACME"])
def test_a_tenant_the_user_is_not_in_is_not_found_exactly_like_one_that_does_not_exist(world, slug):
    with pytest.raises(TenantNotFound, match=r"^No such tenant\.$"):
        member_tenant(world.editor, slug)


def test_an_anonymous_caller_has_no_tenant(world):
    with pytest.raises(TenantNotFound):
        member_tenant(AnonymousUser(), "acme")


def test_pages_answer_404_for_another_tenant_and_for_none_alike(client_for, world):
    client = client_for(world.outsider)
    theirs, nowhere = client.get("/t/acme/"), client.get("/t/no-such-tenant/")
    assert theirs.status_code == nowhere.status_code == 404
    assert client.get("/t/globex/").status_code == 200


def test_the_api_answers_404_for_a_named_tenant_the_session_is_not_in_and_for_none_alike(world):
    theirs = session_client(world.outsider, "acme").get("/api/v1/circuits")
    nowhere = session_client(world.outsider, "no-such-tenant").get("/api/v1/circuits")
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.json()["detail"] == "No tenant 'acme' among yours." and nowhere.json()["detail"] == "No tenant 'no-such-tenant' among yours."
    assert session_client(world.outsider, "globex").get("/api/v1/circuits").status_code == 200


def _is_tenant_lookup_by_slug(item: ast.AST) -> bool:
    """Tenant.objects.<anything>(slug=…) or Membership….filter(tenant__slug=…)."""
    if not isinstance(item, ast.Call) or not any(k.arg in ("slug", "tenant__slug") for k in item.keywords):
        return False
    source = ast.unparse(item.func)
    return source.startswith("Tenant.objects") or "tenant__slug" in {k.arg for k in item.keywords}


@pytest.mark.parametrize(
    "path", ["circuits/web/views", "circuits/web/api", "circuits/web/consumers.py", "circuits/web/demo", "intelligence/views.py", "intelligence/api.py"]
)
def test_no_view_api_or_consumer_looks_a_tenant_up_itself(path):
    """Tenant lookups by slug belong to circuits/tenancy/resolve.py; a second copy is how one forgets the membership check."""
    target = ROOT / path
    for file in [target] if target.is_file() else target.rglob("*.py"):
        for item in ast.walk(ast.parse(file.read_text())):
            if _is_tenant_lookup_by_slug(item):
                raise AssertionError(f"{file.relative_to(ROOT)}:{item.lineno} looks a tenant up by slug; use circuits.tenancy.resolve")


class _Form(forms.Form):
    name = forms.CharField(required=False)


def test_field_errors_go_on_their_fields_and_the_rest_on_the_form():
    form = _Form(data={"name": "x"})
    assert form.is_valid()
    apply_errors(form, ValidationError({"name": ["Taken."], "slug": ["Not a slug."], "__all__": ["Try again."]}))
    assert form.errors["name"] == ["Taken."]
    assert form.non_field_errors() == ["Not a slug.", "Try again."]


def test_an_error_without_fields_is_a_form_error_and_params_are_interpolated():
    form = _Form(data={})
    form.is_valid()
    apply_errors(form, ValidationError("At most %(n)s.", params={"n": 3}))
    assert form.non_field_errors() == ["At most 3."]
    assert error_dict(ValidationError(["One.", "Two."])) == {"__all__": ["One.", "Two."]}
    assert error_messages(ValidationError({"name": ["Taken.", "Too long."], "__all__": ["No."]})) == ["name: Taken. Too long.", "No."]
