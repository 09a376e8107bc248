"""The one permission layer: what each role may do, and guardian grants beyond the role."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from circuits.models import Circuit
from circuits.permissions import has_perm
from circuits.roles import Perm, Role

EXPECTED = {
    Role.OWNER: {"view", "edit", "publish", "run", "manage_members", "manage_settings"},
    Role.ADMIN: {"view", "edit", "publish", "run", "manage_members", "manage_settings"},
    Role.EDITOR: {"view", "edit", "publish", "run"},
    Role.OPERATOR: {"view", "run"},
    Role.VIEWER: {"view"},
}


@pytest.mark.parametrize("role", Role.values)
def test_each_role_has_exactly_its_permissions(world, role):
    user = world.user(role)
    granted = {perm for perm in Perm.values if has_perm(user, world.tenant, perm)}
    assert granted == EXPECTED[role]


@pytest.mark.parametrize("perm", Perm.values)
def test_outsider_has_no_permission_in_a_tenant_they_do_not_belong_to(world, perm):
    assert not has_perm(world.outsider, world.tenant, perm)


def test_guardian_grant_lets_a_viewer_edit_one_circuit_only(world):
    shared = Circuit.objects.create(tenant=world.tenant, name="Shared", slug="shared")
    other = Circuit.objects.create(tenant=world.tenant, name="Other", slug="other")
    assign_perm("circuits.change_circuit", world.viewer, shared)
    assert has_perm(world.viewer, world.tenant, "edit", shared)
    assert not has_perm(world.viewer, world.tenant, "edit", other)
    assert not has_perm(world.viewer, world.tenant, "edit")
    assert list(Circuit.objects.restrict(world.viewer, "edit", world.tenant)) == [shared]


def test_guardian_grant_does_not_open_another_tenant(world):
    foreign = Circuit.objects.create(tenant=world.other_tenant, name="Foreign", slug="foreign")
    assign_perm("circuits.change_circuit", world.viewer, foreign)
    assert not has_perm(world.viewer, world.tenant, "edit", foreign)
    assert not has_perm(world.viewer, world.other_tenant, "edit", foreign)
    assert not Circuit.objects.restrict(world.viewer, "edit", world.other_tenant).exists()


def test_scoped_manager_never_returns_other_tenants_rows(world):
    Circuit.objects.create(tenant=world.tenant, name="Mine", slug="mine")
    Circuit.objects.create(tenant=world.other_tenant, name="Theirs", slug="theirs")
    assert [c.slug for c in Circuit.objects.for_tenant(world.tenant)] == ["mine"]
    assert [c.slug for c in Circuit.objects.restrict(world.owner, "view", world.tenant)] == ["mine"]
    assert not Circuit.objects.restrict(world.outsider, "view", world.tenant).exists()
