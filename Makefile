# Circuit OS — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# Where the demo's circuits reach this app (allow-list entry, demo Slack credential, feed and
# site): the port `make run` listens on; a wildcard host is reached over the loopback.
DEMO_URL = http://$(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST)):$(PORT)

.PHONY: run test lint format bench venv deps dev-deps system-deps npm-deps clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamps re-install only when a requirements file changes.
$(VENV)/.base-installed: requirements/base.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/base.txt requirements/torch.txt requirements/dev.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements/dev.txt
	touch $@

deps: $(VENV)/.base-installed
dev-deps: $(VENV)/.dev-installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

npm-deps: $(if $(wildcard package.json),node_modules/.installed)

# System pieces the suite needs (as root): pgvector for PostgreSQL 15, Debian's Chromium.
system-deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  bash scripts/setup_chromium.sh; \
	  if [ -n "$${DATABASE_URL:-}" ] || [ "$${CI:-}" = true ]; then bash scripts/setup_pgvector.sh; fi; \
	else echo "not root: skipping system packages (Chromium, pgvector) — install them yourself if missing"; fi

run: deps npm-deps
	@mkdir -p var
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput -v0
	DEBUG=$${DEBUG:-1} $(PY) manage.py load_demo --base-url "$${DEMO_BASE_URL:-$(DEMO_URL)}"
	@DEBUG=$${DEBUG:-1} bash scripts/run.sh $(HOST) $(PORT)

# The suite in TEST_WORKERS processes (pytest-xdist, a test file per process at a time so a
# file's module fixtures are built once); TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 2
test: dev-deps npm-deps system-deps
	@mkdir -p var test-artifacts
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format:
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: dev-deps
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null 2>&1; } || echo "wrk not installed: using the Python load generator"
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules staticfiles test-artifacts
