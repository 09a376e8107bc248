"""The action SDK: everything an action is written against, and nothing else.

It imports nothing from the rest of Circuit OS (no circuits, no intelligence, no Django),
so it is the bottom layer (a checked contract: `lint-imports`, pyproject.toml). Families
of actions (actions/data, web, notify, …) build on it; the engine (circuits/automation/engine)
implements its `Context` and finds actions through its registry. docs/actions.md says how
to write one.
"""

from actions.sdk import registry
from actions.sdk.action import Action
from actions.sdk.context import Body, CircuitRun, Context, StepLimits
from actions.sdk.errors import ActionError, ConfigError
from actions.sdk.interrupts import Cancelled, Interrupt, LimitExceeded, Parked, Stopped
from actions.sdk.registry import CATEGORIES, RegistryError, register
from actions.sdk.results import Park, Result, Stop
from actions.sdk.templates import is_template

__all__ = [
    "CATEGORIES",
    "Action",
    "ActionError",
    "Body",
    "Cancelled",
    "CircuitRun",
    "ConfigError",
    "Context",
    "Interrupt",
    "LimitExceeded",
    "Park",
    "Parked",
    "RegistryError",
    "Result",
    "StepLimits",
    "Stop",
    "Stopped",
    "is_template",
    "register",
    "registry",
]
