import importlib

from django.apps import AppConfig

# The families of actions: importing one registers its actions (actions.sdk.registry). They
# are imported here, once every model is loaded, so neither the SDK nor the engine names them.
FAMILIES = ("actions.data", "actions.web", "actions.control", "actions.notify", "actions.util", "actions.rag", "actions.ml", "actions.graph")


class ActionsConfig(AppConfig):
    name = "actions"
    verbose_name = "Action library"

    def ready(self) -> None:
        for module in FAMILIES:
            importlib.import_module(module)
