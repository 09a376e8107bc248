"""Notify actions: Slack messages, e-mail, in-app notifications."""

from actions.notify import email, inapp, slack

__all__ = ["email", "inapp", "slack"]
