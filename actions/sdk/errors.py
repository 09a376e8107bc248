"""Failures an action reports: shown to the user as they are."""

from __future__ import annotations


class ActionError(Exception):
    """A failure the user can act on (bad response, rejected address, …): shown as is."""


class ConfigError(ActionError):
    """The node's configuration is invalid."""
