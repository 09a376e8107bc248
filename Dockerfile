# Circuit OS — one image for the web processes, the Celery workers and beat (deploy/compose.yaml).
# Build: docker build -t circuitos:local .   (add --build-arg INDEX_URL=… for a package mirror)

# The builder's node editor and the charts are npm packages served from our own static files.
FROM node:20.20.2-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --silent --ignore-scripts

FROM python:3.11.14-slim-bookworm
# A package mirror only when given (--build-arg INDEX_URL=… / EXTRA_INDEX_URL=…); otherwise pip's default.
ARG INDEX_URL=""
ARG EXTRA_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# A fixed uid/gid, so volumes (var/) can be prepared on the host with the same owner.
RUN groupadd --system --gid 10001 circuitos \
 && useradd --system --uid 10001 --gid circuitos --home-dir /app --no-create-home --shell /usr/sbin/nologin circuitos

# Dependencies first: the layer is rebuilt only when requirements/base.txt changes. The venv
# sits where scripts/run.sh looks for it (.venv/ beside manage.py).
COPY requirements/base.txt requirements/base.txt
RUN python -m venv /app/.venv \
 && /app/.venv/bin/pip install ${INDEX_URL:+--index-url "$INDEX_URL"} ${EXTRA_INDEX_URL:+--extra-index-url "$EXTRA_INDEX_URL"} -r requirements/base.txt

COPY --from=assets /src/node_modules /app/node_modules
COPY . .

# Assets under content-hashed names at build time (whitenoise serves them; `manage.py serve`
# refuses to start without the manifest). The key exists only for this command. The app user
# owns staticfiles/ (scripts/run.sh collects again at start, a no-op here) and var/ (beat's schedule).
ENV DEBUG=0 STATIC_ROOT=/app/staticfiles CIRCUITOS_VAR_DIR=/app/var LOG_FORMAT=json
RUN SECRET_KEY=collectstatic-only-not-a-secret /app/.venv/bin/python manage.py collectstatic --noinput -v0 \
 && mkdir -p /app/var \
 && chown -R circuitos:circuitos /app/var /app/staticfiles

USER circuitos:circuitos
EXPOSE 8000
# A container on its own runs what `make run` runs with DEBUG off: daphne, plus a Celery
# worker and beat when REDIS_URL is set (deploy/compose.yaml runs each in its own container).
CMD ["bash", "scripts/run.sh", "0.0.0.0", "8000"]
