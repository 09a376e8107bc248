"""Tenants, members, roles and permissions, API keys, encrypted credentials, notification rows, effects applied once, the service base."""
