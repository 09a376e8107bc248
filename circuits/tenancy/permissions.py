"""The permission layer: role of the membership first, then guardian object grants.

A user who is not a member of a tenant has no permission in it at all (callers turn that
into a 404 so other tenants' objects are not even confirmed to exist).

Django's superuser flag never widens a tenant role here: Django and guardian answer "yes"
to every permission question about a superuser, so object grants are read with
`with_superuser=False` and never through `user.has_perm`. The flag opens the admin site
and nothing else.
"""

from __future__ import annotations

from django.db.models import Model, QuerySet
from guardian.shortcuts import get_objects_for_user

from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.tenancy.roles import OBJECT_CODENAMES, role_allows

_CACHE_ATTR = "_circuitos_roles"
_KEY_ATTR = "_circuitos_api_key"


def role_of(user, tenant: Tenant) -> str | None:
    """The user's role in `tenant`, or None when not a member. Cached on the user object."""
    if user is None or not user.is_authenticated or tenant is None:
        return None
    cache: dict[int, str | None] = user.__dict__.setdefault(_CACHE_ATTR, {})
    if tenant.pk not in cache:
        cache[tenant.pk] = Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
    return cache[tenant.pk]


def remember_role(user, tenant: Tenant, role: str | None) -> None:
    """Fix the user's role in `tenant` for this request (an API key acts with a capped role)."""
    user.__dict__.setdefault(_CACHE_ATTR, {})[tenant.pk] = role


def forget_roles(user) -> None:
    user.__dict__.pop(_CACHE_ATTR, None)


def remember_key(user, key) -> None:
    """Note that this request's `user` acts through the API key `key` (its expiry caps what it creates)."""
    user.__dict__[_KEY_ATTR] = key


def acting_key(user):
    """The API key `user` authenticated with in this request, or None for a session or a command."""
    return getattr(user, "__dict__", {}).get(_KEY_ATTR)


def is_member(user, tenant: Tenant) -> bool:
    return role_of(user, tenant) is not None


def _codename(perm: str, model: type[Model]) -> str | None:
    pattern = OBJECT_CODENAMES.get(perm)
    return pattern.format(model=model._meta.model_name) if pattern else None


def has_perm(user, tenant: Tenant, perm: str, obj: Model | None = None) -> bool:
    """May `user` do `perm` in `tenant` (on `obj`, when given)?"""
    role = role_of(user, tenant)
    if role is None:
        return False
    if obj is not None and getattr(obj, "tenant_id", tenant.pk) != tenant.pk:
        return False
    if role_allows(role, perm):
        return True
    if obj is None:
        return False
    codename = _codename(perm, type(obj))
    return bool(codename) and _object_granted(user, obj, codename)


def _object_granted(user, obj: Model, codename: str) -> bool:
    """A guardian grant of `codename` on `obj` to the user or one of their groups (never "because superuser")."""
    if not user.is_active:
        return False
    one = type(obj)._default_manager.filter(pk=obj.pk)
    return get_objects_for_user(user, f"{obj._meta.app_label}.{codename}", klass=one, with_superuser=False, accept_global_perms=False).exists()


def restrict_queryset(qs: QuerySet, user, perm: str, tenant: Tenant) -> QuerySet:
    role = role_of(user, tenant)
    if role is None:
        return qs.none()
    if role_allows(role, perm):
        return qs
    codename = _codename(perm, qs.model)
    if not codename:
        return qs.none()
    granted = get_objects_for_user(user, f"{qs.model._meta.app_label}.{codename}", klass=qs.model, with_superuser=False, accept_global_perms=False)
    return qs.filter(pk__in=granted.values("pk"))
