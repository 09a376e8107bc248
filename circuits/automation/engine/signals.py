"""Signals the engine sends. Who reacts (chaining triggers, execution events) is not the
engine's business: receivers live above it (circuits/automation/triggers/hooks.py) and are connected
in CircuitsConfig.ready(), so the engine never imports the trigger machinery.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent by the runner after it moved an execution to a final status (succeeded / failed),
# outside the transaction that did it. Arguments: execution (the Execution, refreshed).
execution_finished = Signal()
