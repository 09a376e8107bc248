"""The production shape's HTTP worker: gunicorn's process manager running uvicorn in each worker.

`scripts/run.sh` starts `gunicorn --preload -k circuitos_site.web_worker.Worker`: the master
imports Django and the ASGI application once, then forks the workers, which share those pages
copy-on-write instead of each importing everything again (uvicorn's own `--workers` spawns
fresh interpreters). Each worker serves HTTP and the Channels WebSockets on uvloop and
httptools; the application has no lifespan protocol (Channels' router refuses it), so it is
off rather than probed at every start.

Nothing opens a connection at import (the database pool, the Redis clients and the live-event
publisher start on first use, in the worker that uses them), so no socket is shared across the fork.
"""

from __future__ import annotations

from uvicorn_worker import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "uvloop", "http": "httptools", "ws": "websockets-sansio", "lifespan": "off"}
