from django.apps import AppConfig


class IntelligenceConfig(AppConfig):
    name = "intelligence"
    verbose_name = "Intelligence (RAG, ML, knowledge graph)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from intelligence.graph import receivers

        receivers.connect()
