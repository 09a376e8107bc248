"""The one permission layer: what each role may do, and guardian grants beyond the role."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from circuits.automation.models.circuit import Circuit
from circuits.tenancy.permissions import has_perm
from circuits.tenancy.roles import Perm, Role, lesser_role, role_at_most

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


@pytest.mark.parametrize("role", Role.values)
def test_a_superuser_member_has_exactly_their_roles_permissions(world, role):
    user = world.user(role)
    user.is_superuser = user.is_staff = True
    user.save(update_fields=["is_superuser", "is_staff"])
    circuit = Circuit.objects.create(tenant=world.tenant, name="Any", slug="any")
    assert {perm for perm in Perm.values if has_perm(user, world.tenant, perm)} == EXPECTED[role]
    assert {perm for perm in Perm.values if has_perm(user, world.tenant, perm, circuit)} == EXPECTED[role]
    for perm in Perm.values:
        assert Circuit.objects.restrict(user, perm, world.tenant).exists() == (perm in EXPECTED[role])


def test_a_superuser_outside_a_tenant_has_no_permission_in_it(world):
    world.outsider.is_superuser = True
    world.outsider.save(update_fields=["is_superuser"])
    circuit = Circuit.objects.create(tenant=world.tenant, name="Any", slug="any")
    assert not any(has_perm(world.outsider, world.tenant, perm, circuit) for perm in Perm.values)
    assert not Circuit.objects.restrict(world.outsider, "view", world.tenant).exists()


def test_a_superusers_object_grant_still_counts_like_anyone_elses(world):
    world.viewer.is_superuser = True
    world.viewer.save(update_fields=["is_superuser"])
    shared = Circuit.objects.create(tenant=world.tenant, name="Shared", slug="shared")
    Circuit.objects.create(tenant=world.tenant, name="Other", slug="other")
    assign_perm("circuits.change_circuit", world.viewer, shared)
    assert has_perm(world.viewer, world.tenant, "edit", shared)
    assert list(Circuit.objects.restrict(world.viewer, "edit", world.tenant)) == [shared]


def test_roles_are_ranked_so_owner_is_above_admin_although_both_hold_every_permission():
    assert role_at_most("admin", "owner") and not role_at_most("owner", "admin")
    assert [r for r in Role.values if role_at_most(r, "editor")] == ["editor", "operator", "viewer"]
    assert lesser_role("owner", "admin") == "admin" and lesser_role("viewer", "owner") == "viewer"
    assert lesser_role("emperor", "owner") is None and not role_at_most("viewer", None)
