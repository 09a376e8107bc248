"""Roles and what each may do: the one place that decides it.

Object permissions (django-guardian) can grant a single object beyond the role; they are
checked in `circuits.tenancy.permissions`.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    OPERATOR = "operator", "Operator"
    VIEWER = "viewer", "Viewer"


class Perm(models.TextChoices):
    VIEW = "view", "view"
    EDIT = "edit", "edit"
    PUBLISH = "publish", "publish"
    RUN = "run", "run"
    MANAGE_MEMBERS = "manage_members", "manage members"
    MANAGE_SETTINGS = "manage_settings", "manage settings"


_ALL = frozenset(Perm)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL,
    Role.EDITOR: frozenset({Perm.VIEW, Perm.EDIT, Perm.PUBLISH, Perm.RUN}),
    Role.OPERATOR: frozenset({Perm.VIEW, Perm.RUN}),
    Role.VIEWER: frozenset({Perm.VIEW}),
}

# Model-level codenames guardian uses for an object grant of each permission.
OBJECT_CODENAMES: dict[str, str] = {
    Perm.VIEW: "view_{model}",
    Perm.EDIT: "change_{model}",
    Perm.PUBLISH: "publish_{model}",
    Perm.RUN: "run_{model}",
}


def role_allows(role: str | None, perm: str) -> bool:
    return bool(role) and perm in ROLE_PERMISSIONS.get(role, frozenset())


# Roles form a chain. The order is by rank, not by permission set: an admin holds every
# permission an owner holds, yet only an owner may grant ownership, so "an admin's key with
# the owner role" must count as *above* the admin (comparing permission sets let it through).
ROLE_RANK: dict[str, int] = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.EDITOR: 3, Role.ADMIN: 4, Role.OWNER: 5}


def role_at_most(role: str, ceiling: str | None) -> bool:
    """Is `role` no higher than `ceiling`? (An unknown role or no ceiling: no.)"""
    return ceiling is not None and role in ROLE_RANK and ROLE_RANK[role] <= ROLE_RANK.get(ceiling, 0)


def lesser_role(a: str | None, b: str | None) -> str | None:
    """The lower of two roles; None (no role) when either is None or unknown."""
    if a not in ROLE_RANK or b not in ROLE_RANK:
        return None
    return a if ROLE_RANK[a] <= ROLE_RANK[b] else b
