from django.apps import AppConfig


class CircuitsConfig(AppConfig):
    name = "circuits"
    verbose_name = "Circuits"
    default_auto_field = "django.db.models.BigAutoField"
