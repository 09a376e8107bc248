"""The engine's interrupts: exceptions that end a step's work without being its failure.

The engine raises them through whatever an action calls on its context (`ctx.sleep`,
`ctx.run_body`, `ctx.start_circuit`): the execution parked, was stopped or cancelled, ran
out of a governor limit, lost its runner's lease. An action never turns one into its own
error — code that catches broadly around a context call lets `Interrupt` pass:

    try:
        ctx.run_body(body)
    except Interrupt:
        raise
    except Exception as exc:
        ...

Every interrupt the engine raises is a subclass (the engine's own — limits, lease, a failed
step that ends the execution — subclass `Interrupt` too), so actions recognise them by
class, never by name.
"""

from __future__ import annotations

from datetime import datetime

from actions.sdk.results import Stop


class Interrupt(Exception):
    """Base of everything the engine raises to stop a step's work."""


class Parked(Interrupt):
    """The execution waits until `until` (a step in a body parked); it resumes then."""

    def __init__(self, until: datetime):
        super().__init__(f"parked until {until.isoformat()}")
        self.until = until


class Stopped(Interrupt):
    """A step returned `Stop`: the execution ends now."""

    def __init__(self, stop: Stop):
        super().__init__(stop.message)
        self.stop = stop


class Cancelled(Interrupt):
    """Someone cancelled the execution."""


class LimitExceeded(Interrupt):
    """A governor limit ran out: the execution fails (kind "limit"); no error port or on_error=continue catches it."""

    def __init__(self, limit: str, value, message: str):
        super().__init__(f"Governor limit exceeded: {message} (limit {limit} = {value})")
        self.limit = limit
