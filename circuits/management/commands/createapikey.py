"""manage.py createapikey --tenant acme --user owner@acme.test --role editor

Prints the new key alone on its last line (so `| tail -n1` captures it); it is shown
this once and only its hash is stored.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.tenancy.roles import Role
from circuits.tenancy.services.apikeys import CreateApiKey


class Command(BaseCommand):
    help = "Create an API key for a member of a tenant and print it (shown once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--user", required=True, help="e-mail address or username of a member: the key acts as them")
        parser.add_argument("--role", required=True, choices=Role.values, help="the key's role (never above the user's)")
        parser.add_argument("--name", default="", help="a name to recognise the key by (default: cli-<user>)")
        parser.add_argument("--expires-in-days", type=int, default=None, help="expire after this many days (default: never)")

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']!r}.")
        identifier = options["user"]
        users = get_user_model().objects
        user = (users.filter(email__iexact=identifier).order_by("pk").first() if "@" in identifier else None) or users.filter(username=identifier).first()
        if user is None:
            raise CommandError(f"No user {identifier!r}.")
        membership = Membership.objects.filter(tenant=tenant, user=user).first()
        if membership is None:
            raise CommandError(f"{user.get_username()} is not a member of {tenant.slug}.")
        expires_at = None
        if options["expires_in_days"] is not None:
            if options["expires_in_days"] < 1:
                raise CommandError("--expires-in-days must be at least 1.")
            expires_at = timezone.now() + timedelta(days=options["expires_in_days"])
        service = CreateApiKey(tenant, user, name=options["name"] or f"cli-{user.get_username()}", role=options["role"], user=user, expires_at=expires_at)
        try:
            # Whoever runs manage.py administers the server, so the "owners and admins only"
            # check of the web and API does not apply; the data rules do (validate(): the
            # key's role never above its user's role).
            with transaction.atomic():
                service.validate()
                key = service.perform()
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stderr.write(f"API key {key.name!r} ({key.prefix}…) for {user.get_username()} in {tenant.slug}, role {key.role}. Shown once:")
        self.stdout.write(service.raw_key)
