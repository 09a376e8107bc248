from django.apps import AppConfig


class CircuitsConfig(AppConfig):
    name = "circuits"
    verbose_name = "Circuits"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The record store and the engine send signals; the trigger machinery (above them)
        # receives them. Importing it here, once the models are loaded, fills the kind registry
        # and connects the receivers, so neither sender imports circuits.automation.triggers.
        # `tasks` registers the worker tasks in every process, web ones included: dispatch finds the
        # run task by name (circuits/automation/dispatch.py), and Celery's autodiscovery only runs in workers.
        from circuits.automation import receivers, tasks  # noqa: F401  (receivers: tenancy → automation, member_left)
        from circuits.automation.triggers import hooks, registry

        registry.load()
        hooks.connect()
