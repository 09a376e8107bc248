"""Roles and what each may do: the one place that decides it.

Object permissions (django-guardian) can grant a single object beyond the role; they are
checked in `circuits.permissions`.
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
