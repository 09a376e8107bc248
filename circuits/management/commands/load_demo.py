"""Create (or keep) the demo tenant `acme` with an owner, an editor and a viewer.

Idempotent: running it again keeps existing data and prints the same logins, whose
generated passwords are kept in var/demo_logins.json (never in the repository).
"""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.tenancy.roles import Role
from circuits.web.demo.examples import DEMO_TENANT, load_examples
from intelligence.graph.demo import load_demo_graph
from intelligence.ml.demo import load_demo_model
from intelligence.rag.demo import load_demo_documents

DEMO_USERS = [("owner", Role.OWNER), ("editor", Role.EDITOR), ("viewer", Role.VIEWER)]


class Command(BaseCommand):
    help = "Load the demo tenant (acme) and its three demo users; prints their logins."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default=None, help="where this app is reachable (for the demo site, feed and inbox)")

    def handle(self, *args, **options):
        logins_file = settings.VAR_DIR / "demo_logins.json"
        logins: dict[str, str] = json.loads(logins_file.read_text()) if logins_file.exists() else {}
        User = get_user_model()
        with transaction.atomic():
            tenant, _ = Tenant.objects.get_or_create(slug=DEMO_TENANT, defaults={"name": "Acme Corporation"})
            for name, role in DEMO_USERS:
                username = f"{name}@acme.test"
                user = User.objects.filter(username=username).first()
                if user is None or username not in logins:
                    logins[username] = secrets.token_urlsafe(9)
                    user = user or User(username=username, email=username)
                    user.set_password(logins[username])
                    user.is_staff = user.is_superuser = role == Role.OWNER
                    user.save()
                Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": role})
            owner = User.objects.get(username="owner@acme.test")
            load_examples(tenant, owner, options["base_url"] or settings.DEMO_BASE_URL)
            model = load_demo_model(tenant)  # leads with outcomes, and a lead-score model trained on them
            load_demo_graph(tenant)  # the knowledge graph Query Competitors reads
        # After the commit: ingestion embeds once its chunks are committed (and the graph's
        # entities exist, so the documents' mentions of Globex or Initech are linked).
        load_demo_documents(tenant)
        logins_file.parent.mkdir(parents=True, exist_ok=True)
        logins_file.write_text(json.dumps(logins, indent=2))
        logins_file.chmod(0o600)
        active = model.active_version
        if active is not None:
            self.stdout.write(
                f"Lead-score model v{active.number}: {active.chosen}, held-out ROC AUC {active.metrics.get('roc_auc')} on {active.test_rows} leads."
            )
        self.stdout.write(self.style.SUCCESS("Demo tenant 'acme' ready. Sign in with:"))
        for name, role in DEMO_USERS:
            username = f"{name}@acme.test"
            self.stdout.write(f"  {role:<7} {username:<20} password: {logins[username]}")
