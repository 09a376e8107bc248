"""What `Action.run` may return besides a plain output."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class Result:
    """What `run` returns when it needs more than an output: the port to follow."""

    output: Any = None
    port: str = "next"


@dataclass
class Park:
    """Pause the execution until `until` (an aware datetime) without holding a worker."""

    until: datetime
    output: Any = None


@dataclass
class Stop:
    """End the execution now with `status` ("succeeded" or "failed") and `output`."""

    status: str = "succeeded"
    output: Any = None
    message: str = ""
