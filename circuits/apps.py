from django.apps import AppConfig


class CircuitsConfig(AppConfig):
    name = "circuits"
    verbose_name = "Circuits"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Django's place for wiring the layers together once the models are loaded:
        # - triggers: fills the kind registry and connects the receivers of the record store's
        #   and the engine's signals, so neither sender imports circuits.automation.triggers, and
        #   the webhook lookup's invalidation (trigger, circuit, version changes);
        # - receivers: automation's answers to tenancy's signals (member_left);
        # - tasks: registers the Celery tasks in every process, not only in workers — dispatch
        #   sends run_execution by name (it sits below the tasks and cannot import them);
        # - consumers: signing out closes the session's WebSockets (in every process that logs out);
        # - logs: structlog formats like stdlib logging, and Celery messages carry the log context.
        from circuits.automation import receivers, tasks  # noqa: F401
        from circuits.automation.triggers import hooks, lookup, registry
        from circuits.core import logs
        from circuits.web import consumers  # noqa: F401

        registry.load()
        hooks.connect()
        lookup.connect()
        logs.configure()
        logs.connect_celery()
        # SQL statements counted per process (a benchmark's figure; off by default).
        from django.conf import settings
        from django.db.backends.signals import connection_created

        from circuits.core import metrics

        if settings.METRICS_DB_STATEMENTS:
            connection_created.connect(metrics.count_db_statements, dispatch_uid="circuits.core.metrics.db_statements")
