"""Helpers for tests that start the site in another process (daphne, `manage.py serve`)."""

from __future__ import annotations

import socket

from django.db import connection


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_database_url() -> str:
    """A DATABASE_URL for the test database, so the server process shares it."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
