"""Automation mutations as service objects."""
