"""Tenancy mutations as service objects."""
