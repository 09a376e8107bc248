"""`manage.py graph_sync [--tenant SLUG]`: (re)build the knowledge graph from the records and
documents a tenant already has — for data that predates the graph; new writes sync themselves."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from circuits.tenancy.models.tenants import Tenant
from intelligence.graph.sync import sync_all_records, sync_document
from intelligence.rag.models import Document


class Command(BaseCommand):
    help = "Build the knowledge graph from existing records (accounts, contacts, product lines) and documents."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="the tenant's slug (default: every tenant)")

    def handle(self, *args, **options) -> None:
        tenants = Tenant.objects.order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant {options['tenant']!r}.")
        for tenant in tenants:
            records, skipped = sync_all_records(tenant)
            for reason in skipped:
                self.stderr.write(f"{tenant.slug}: skipped {reason}")
            documents = 0
            for document in Document.objects.for_tenant(tenant).order_by("pk").only("pk", "title", "text", "tenant"):
                sync_document(tenant, document)
                documents += 1
            self.stdout.write(f"{tenant.slug}: {records} records, {documents} documents read" + (f", {len(skipped)} records skipped" if skipped else ""))
