"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "circuitos_site.settings")

app = Celery("circuitos")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The engine's tasks live in a domain package of the circuits app, not at its top.
app.autodiscover_tasks(["circuits.automation"])
