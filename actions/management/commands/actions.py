"""`manage.py actions [--json]`: the action registry (name, category, label, schema, …)."""

import json

from django.core.management.base import BaseCommand

from actions.sdk import registry


class Command(BaseCommand):
    help = "List the registered actions; --json prints them as a JSON list with their config schemas."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print a JSON list of objects")

    def handle(self, *args, **options):
        described = [action.describe() for action in registry.all_actions()]
        if options["json"]:
            self.stdout.write(json.dumps(described, indent=2))
            return
        for item in described:
            self.stdout.write(f"{item['name']:<28} {item['category']:<8} {item['label']}")
