"""gunicorn settings for the production shape (`scripts/run.sh`: `-c python:circuitos_site.gunicorn_conf`)."""

import gc


def when_ready(server) -> None:
    # The application is loaded (--preload) and the workers are about to be forked. Objects
    # moved to the permanent generation are never touched by the collector again, so the
    # workers keep sharing their pages instead of copying them at their first collection.
    gc.collect()
    gc.freeze()
