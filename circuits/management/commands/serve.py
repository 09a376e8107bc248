"""Run daphne; with the embedded broker also a Celery worker and beat in this process.

This is the one-process shape (development, or no Redis). With Redis, `scripts/run.sh`
runs uvicorn worker processes instead, after `serve --check`.

daphne is `circuitos_site.server.LimitedServer`: request bodies are limited while they
arrive (plain `daphne circuitos_site.asgi:application` would store a whole body first).

Without Redis the broker is Celery's in-memory transport, which only reaches consumers
in the same process. Running the worker and the scheduler here (threads) keeps the real
Celery interface and lets the in-memory channel layer carry live updates to browsers.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from circuits.core import tracing


class Command(BaseCommand):
    help = "Serve Circuit OS over HTTP + WebSocket (daphne); embedded worker/scheduler without Redis."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="do not start the embedded worker and scheduler")
        parser.add_argument("--check", action="store_true", help="only check that the site can start (static files collected), then exit")

    def handle(self, *args, host: str, port: int, no_worker: bool, check: bool = False, **options):
        require_collected_static()
        if check:
            return
        tracing.configure("circuitos-web")  # one process, never forked: its web side and embedded worker
        if settings.CELERY_EMBEDDED and not no_worker:
            start_embedded_worker()
            self.stdout.write("Embedded Celery worker and scheduler started (in-memory broker).")
        # Imported here, not at the top: daphne installs Twisted's asyncio reactor when its
        # server module is imported, which must not happen when any other command is loaded.
        from daphne.endpoints import build_endpoint_description_strings

        from circuitos_site.asgi import application
        from circuitos_site.server import LimitedServer

        self.stdout.write(self.style.SUCCESS(f"Circuit OS is up at http://{host}:{port}/  (Ctrl-C stops it)"))
        LimitedServer(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            verbosity=0,
        ).run()


def require_collected_static() -> None:
    """With a manifest storage (DEBUG off) every page names its assets through STATIC_ROOT's
    manifest: refuse to start without it rather than answer 500 to every page."""
    from django.contrib.staticfiles.storage import ManifestFilesMixin
    from django.core.files.storage import storages

    storage = storages["staticfiles"]
    if isinstance(storage, ManifestFilesMixin) and not (settings.STATIC_ROOT / storage.manifest_name).is_file():
        raise CommandError(
            f"static files are not collected into STATIC_ROOT ({settings.STATIC_ROOT}): run `manage.py collectstatic --noinput` "
            "(scripts/run.sh does when DEBUG is off), or set DEBUG=1 for development."
        )


def start_embedded_worker(concurrency: int = 4) -> None:
    from celery.beat import EmbeddedService

    from circuitos_site.celery import app

    worker = app.Worker(pool="threads", concurrency=concurrency, loglevel="INFO", without_heartbeat=True, without_mingle=True, without_gossip=True, quiet=True)
    threading.Thread(target=worker.start, name="celery-worker", daemon=True).start()
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    EmbeddedService(app, thread=True, schedule_filename=str(settings.VAR_DIR / "celerybeat-schedule")).start()
