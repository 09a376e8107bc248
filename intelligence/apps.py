import importlib

from django.apps import AppConfig


class IntelligenceConfig(AppConfig):
    name = "intelligence"
    verbose_name = "Intelligence (RAG, ML, knowledge graph)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The graph listens to the record store and to ingestion (intelligence/graph/receivers.py);
        # imported here, once every model is loaded, like the action families in actions/apps.py.
        importlib.import_module("intelligence.graph.receivers").connect()
