#!/usr/bin/env bash
# Start Circuit OS: daphne, plus a Celery worker and beat.
# Without REDIS_URL the worker and beat run inside the daphne process (in-memory broker);
# with it they are separate processes. Ctrl-C stops everything this script started.
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
  DB_APPLICATION_NAME=circuitos-worker .venv/bin/celery -A circuitos_site worker --loglevel=INFO --concurrency=4 &
  pids+=($!)
  DB_APPLICATION_NAME=circuitos-beat .venv/bin/celery -A circuitos_site beat --loglevel=INFO --schedule var/celerybeat-schedule &
  pids+=($!)
  DB_APPLICATION_NAME=circuitos-web "$py" manage.py serve --host "$host" --port "$port" --no-worker &
else
  "$py" manage.py serve --host "$host" --port "$port" &
fi
pids+=($!)
wait -n "${pids[@]}"
