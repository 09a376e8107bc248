"""Automation models (app label `circuits`)."""
