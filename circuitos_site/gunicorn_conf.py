"""gunicorn settings for the production shape (`scripts/run.sh`: `-c python:circuitos_site.gunicorn_conf`)."""

import gc

from circuits.core import tracing


def when_ready(server) -> None:
    # The application is loaded (--preload) and the workers are about to be forked. Objects
    # moved to the permanent generation are never touched by the collector again, so the
    # workers keep sharing their pages instead of copying them at their first collection.
    gc.collect()
    gc.freeze()


def post_fork(server, worker) -> None:
    # Tracing starts in each worker after the fork: an exporter's thread and connection
    # never survive one (circuits/core/tracing.py; off without OTEL_EXPORTER_OTLP_ENDPOINT).
    tracing.configure("circuitos-web")


def worker_exit(server, worker) -> None:
    tracing.shutdown()  # send the spans still buffered
