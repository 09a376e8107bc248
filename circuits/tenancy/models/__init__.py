"""Tenancy models (app label `circuits`; `circuits.models` gathers every domain's models for Django)."""
