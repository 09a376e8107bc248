#!/usr/bin/env bash
# Start Circuit OS.
# With REDIS_URL (the production shape): WEB_CONCURRENCY uvicorn worker processes under
# gunicorn (HTTP + Channels WebSockets over the Redis channel layer), a Celery worker of
# CELERY_CONCURRENCY prefork children, and beat; both counts default to the CPUs this
# process may use.
# Without REDIS_URL: one daphne process with the worker and beat inside it (in-memory broker
# and channel layer reach only their own process, so there can be only one).
# Ctrl-C stops everything this script started.
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-8000}
py=.venv/bin/python
pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# With DEBUG off pages name their assets by content hash from STATIC_ROOT's manifest
# (whitenoise serves them): collect them first, or every page would answer 500.
case "${DEBUG:-0}" in
  1|true|yes|on) ;;
  *) "$py" manage.py collectstatic --noinput -v0 ;;
esac

# Metrics of several processes (web + workers) meet in PROMETHEUS_MULTIPROC_DIR: the files
# of a previous run would be counted again, so it starts empty.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
fi

if [ -n "${REDIS_URL:-}" ]; then
  cpus=$(nproc)
  # `serve --check` refuses uncollected static files (as `serve` does) without serving.
  "$py" manage.py serve --check
  web_workers=${WEB_CONCURRENCY:-$cpus}
  worker_concurrency=${CELERY_CONCURRENCY:-$cpus}
  # Beat (one per deployment): by default a process the worker forks (-B), sharing the
  # worker's loaded code instead of importing all of Django again; CELERY_BEAT=separate runs it
  # as its own process, CELERY_BEAT=off none (machines beside the one that runs it).
  beat=${CELERY_BEAT:-worker}
  worker_args=()
  [ "$beat" = worker ] && worker_args=(--beat --schedule var/celerybeat-schedule)
  mkdir -p var
  # One worker for every kind of work (CELERY_WORKER_KINDS, all by default: README "Production").
  DB_APPLICATION_NAME=circuitos-worker .venv/bin/celery -A circuitos_site worker --loglevel=INFO --concurrency="$worker_concurrency" "${worker_args[@]}" &
  pids+=($!)
  if [ "$beat" = separate ]; then
    DB_APPLICATION_NAME=circuitos-beat .venv/bin/celery -A circuitos_site beat --loglevel=INFO --schedule var/celerybeat-schedule &
    pids+=($!)
  fi
  # gunicorn loads the application once (--preload) and forks the uvicorn workers from it:
  # they share its pages (circuitos_site/web_worker.py).
  bind="$host:$port"
  case "$host" in *:*) bind="[$host]:$port" ;; esac  # an IPv6 address
  DB_APPLICATION_NAME=circuitos-web .venv/bin/gunicorn circuitos_site.asgi:application \
    --config python:circuitos_site.gunicorn_conf --preload --worker-class circuitos_site.web_worker.Worker --workers "$web_workers" \
    --bind "$bind" --graceful-timeout 20 &
else
  "$py" manage.py serve --host "$host" --port "$port" &
fi
pids+=($!)
wait -n "${pids[@]}"
