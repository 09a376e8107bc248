from django.apps import AppConfig


class CircuitsConfig(AppConfig):
    name = "circuits"
    verbose_name = "Circuits"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The record store and the engine send signals; the trigger machinery (above them)
        # receives them. Importing it here, once the models are loaded, fills the kind registry
        # and connects the receivers, so neither sender imports circuits.automation.triggers.
        from circuits.automation import receivers  # noqa: F401  (tenancy → automation: member_left)
        # Registers the Celery tasks in every process, not only in workers: dispatch sends
        # run_execution by name (it sits below the tasks and cannot import them).
        from circuits.automation import tasks  # noqa: F401
        from circuits.automation.triggers import hooks, registry

        registry.load()
        hooks.connect()
