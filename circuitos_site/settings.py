"""Circuit OS settings: one module, driven by environment variables.

Embedded defaults (no DATABASE_URL / REDIS_URL) give a laptop set-up: SQLite, an
in-memory channel layer and an in-process Celery broker. With the variables set the same
code runs on PostgreSQL + pgvector, channels-redis and Celery on Redis.
"""

from __future__ import annotations

import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from circuitos_site.env import env_bool, env_dir, env_int, env_list, env_networks, env_secret, env_str, env_url
from circuits.core.logs import formatter as log_formatter

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CIRCUITOS_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (set DEBUG=1 for local development).")
    # Only for local development; never used with DEBUG off.
    SECRET_KEY = "django-insecure-circuitos-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Key for credentials encrypted at rest. Falls back to one derived from SECRET_KEY so a
# laptop works out of the box; production sets its own (and can rotate SECRET_KEY apart).
CREDENTIALS_KEY = env_str("CREDENTIALS_KEY", "")

INSTALLED_APPS = [
    # daphne's app only makes `runserver` serve ASGI (development). Loading it imports Twisted
    # and installs its reactor (~55 MiB in every process), which the production shape's
    # uvicorn workers and Celery processes never use; `manage.py serve` imports daphne itself.
    *(["daphne"] if DEBUG else []),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "circuits",
    "actions",
    "intelligence",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "circuits.web.observability.RequestObservabilityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "circuitos_site.urls"
ASGI_APPLICATION = "circuitos_site.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "circuits.web.context_processors.tenancy",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        # Who holds a connection shows in pg_stat_activity (scripts/run.sh names web, worker, beat).
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("application_name", env_str("DB_APPLICATION_NAME", "circuitos"))
        if env_bool("DB_POOL", True):
            # psycopg's pool, one per process: under ASGI every request runs its sync code in a
            # thread of its own, so persistent (per-thread) connections piled up — one daphne
            # held ~50 at 16 concurrent requests and then failed with "too many clients". A
            # request now borrows a connection and returns it when it ends; a process never
            # holds more than DB_POOL_MAX (waiting up to DB_POOL_TIMEOUT seconds for one).
            pool_max = env_int("DB_POOL_MAX", 8, minimum=1)
            pool_min = env_int("DB_POOL_MIN", 1, minimum=0)
            if pool_min > pool_max:
                raise ImproperlyConfigured(f"DB_POOL_MIN ({pool_min}) must not exceed DB_POOL_MAX ({pool_max}).")
            DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections, not the threads
            DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
                "min_size": pool_min,
                "max_size": pool_max,
                "timeout": env_int("DB_POOL_TIMEOUT", 10, minimum=1),
                "max_idle": 300,  # idle connections above min_size are closed after 5 minutes
            }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "circuitos.sqlite3",
            # WAL + a busy timeout let the web process and the worker threads share the file.
            # synchronous=NORMAL is durable in WAL mode except for the last commits on power loss.
            # IMMEDIATE transactions take the write lock up front, so concurrent writers (parallel
            # branches, the embedded worker) wait on the busy timeout instead of failing at once.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
USES_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery -------------------------------------------------
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss"))
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNELS_PREFIX", "circuitos")},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "circuitos_site.cache.SharedRedisCache",  # one connection pool per process
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_PREFIX", "circuitos"),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "circuitos_site.channel_layer.LoopSafeInMemoryChannelLayer"}}
    # Room enough that culling never evicts a live socket's presence mark (circuits/core/live.py).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 100_000}}}
# Live events waiting to be sent, per process; past it the oldest are dropped (pages catch up from the database).
LIVE_QUEUE_MAX = env_int("LIVE_QUEUE_MAX", 10_000, minimum=10)

# Without Redis the broker is Celery's in-memory transport: `manage.py serve` then runs a
# real Celery worker and beat inside the web process (same interface, no server needed).
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", ("redis", "rediss", "amqp", "memory")) or REDIS_URL or "memory://"
CELERY_EMBEDDED = CELERY_BROKER_URL.startswith("memory://")
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_PREFETCH", 4, minimum=1)  # a few in hand per slot: fewer broker round trips
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=10)}
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "circuitos")

# --- Auth --------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "circuits.tenancy.auth.EmailOrUsernameBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous object permissions
GUARDIAN_RAISE_403 = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- I18N / static -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
NODE_MODULES_DIR = BASE_DIR / "node_modules"
# npm packages (package.json, installed by `make npm-deps`) served from our own static files
# under static/vendor/<name>/ — only their dist folders, and only those that are installed, so
# settings load (and pages without them work) before `npm ci` has run.
NPM_STATIC = {"drawflow": "drawflow/dist", "chart.js": "chart.js/dist", "cytoscape": "cytoscape/dist"}
STATICFILES_DIRS += [(f"vendor/{name}", NODE_MODULES_DIR / dist) for name, dist in NPM_STATIC.items() if (NODE_MODULES_DIR / dist).is_dir()]
# `manage.py collectstatic` writes here (scripts/run.sh runs it whenever DEBUG is off); whitenoise
# serves it with hashed, compressed names and far-future cache headers.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Email -------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if env_str("EMAIL_HOST") else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Circuit OS <circuitos@localhost>")
# The site's address as people reach it, for links that leave it (failure alerts by e-mail and Slack).
SITE_URL = env_url("SITE_URL", ("http", "https")) or ""

# --- Security (production shape; `check --deploy` is clean with DEBUG off) -----------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# /health is probed by load balancers over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]

# --- REST framework ------------------------------------------------------------------------
# Per API key (or signed-in user) and per tenant, counted in the shared cache (Redis in production).
API_RATE_PER_KEY = env_str("API_RATE_PER_KEY", "1200/min")
API_RATE_PER_TENANT = env_str("API_RATE_PER_TENANT", "6000/min")
for _name, _rate in (("API_RATE_PER_KEY", API_RATE_PER_KEY), ("API_RATE_PER_TENANT", API_RATE_PER_TENANT)):
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", _rate):
        raise ImproperlyConfigured(f"{_name}={_rate!r}: use <requests>/<period>, e.g. 600/min (period: s, min, hour or day).")
# Largest JSON body the API reads (413 above it) and the longest `POST /api/v1/execute?wait=true` runs.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1_048_576, minimum=1024)
API_WAIT_SECONDS = float(env_int("API_WAIT_SECONDS", 30, minimum=1))
# How many callers (API `?wait=true`, webhooks with `respond: wait`) one web process lets wait at
# once; each holds a thread and a database connection. Past it a caller is answered 202 at once.
API_WAIT_MAX_CALLERS = env_int("API_WAIT_MAX_CALLERS", 16, minimum=1)
# Every request body is counted while it arrives (chunked too) and refused with 413 past
# MAX_REQUEST_BODY_BYTES — or WEBHOOK_MAX_BODY_BYTES under /hooks/, where a trigger's own
# max_bytes may allow up to 10 MB — before any routing or authentication (circuitos_site/limits.py).
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 3_145_728, minimum=65_536)
WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", 10_000_000, minimum=65_536)
# Every JSON input is read by circuits/core/strict_json.py: nesting and number-length bounds.
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 100, minimum=2)
JSON_MAX_NUMBER_DIGITS = env_int("JSON_MAX_NUMBER_DIGITS", 1000, minimum=20)
# An HMAC-signed webhook delivery is accepted this long around its X-Circuit-Timestamp, once.
WEBHOOK_SIGNATURE_TOLERANCE_SECONDS = env_int("WEBHOOK_SIGNATURE_TOLERANCE_SECONDS", 300, minimum=1)
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "circuits.web.api.schema.ApiAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "circuits.web.api.authentication.ApiKeyAuthentication",
        "circuits.web.api.authentication.TenantSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["circuits.web.api.permissions.TenantPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["circuits.web.api.throttling.KeyRateThrottle", "circuits.web.api.throttling.TenantRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": API_RATE_PER_KEY, "api_tenant": API_RATE_PER_TENANT},
    "DEFAULT_PARSER_CLASSES": ["circuits.web.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_METADATA_CLASS": None,
    "EXCEPTION_HANDLER": "circuits.web.api.exceptions.problem_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Circuit OS API",
    "DESCRIPTION": (
        "Everything a user can do in the browser, over HTTP. Authenticate with a tenant's API key "
        "(`Authorization: Bearer cos_…`) or the browser session (name the tenant with `X-Tenant`). "
        "Errors are RFC 9457 problem details (`application/problem+json`)."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "circuits.automation.models.execution.ExecutionStatus",
        "StepStatusEnum": "circuits.automation.models.execution.StepStatus",
        "VersionStatusEnum": "circuits.automation.models.version.VersionStatus",
        "RoleEnum": "circuits.tenancy.roles.Role",
        "KindEnum": "circuits.tenancy.models.access.CredentialKind",  # the credentials kind keeps its name next to ModelKindEnum
        "ModelKindEnum": "intelligence.ml.models.ModelKind",
        "ModelSplitEnum": "intelligence.ml.models.SplitMode",
        "ModelVersionStatusEnum": "intelligence.ml.models.VersionStatus",
    },
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "circuits.web.api.schema.postprocess"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "REDOC_DIST": "SIDECAR",
}

# Every line through structlog (circuits/core/logs.py): JSON objects carrying request_id,
# tenant, circuit, execution_id and step ids, secrets masked; "console" for a developer.
LOG_FORMAT = env_str("LOG_FORMAT", "console" if DEBUG else "json")
if LOG_FORMAT not in ("json", "console"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use json or console.")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": log_formatter(json=LOG_FORMAT == "json")},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
# Celery keeps the logging configured above instead of installing its own formatter.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Metrics (GET /metrics, Prometheus text format; circuits/web/metrics.py) ----------------
# A scraper is let in by `Authorization: Bearer <METRICS_TOKEN>` or by coming from one of
# METRICS_ALLOW_NETWORKS (the direct peer address: scrape the web processes, not the proxy).
METRICS_TOKEN = env_secret("METRICS_TOKEN", min_length=24)
METRICS_ALLOW_NETWORKS = env_networks("METRICS_ALLOW_NETWORKS", ["127.0.0.1/32", "::1/128"])
# Several processes (web processes, Celery workers) on one machine: prometheus-client's
# multiprocess mode, each process writing into this shared folder, which scripts/run.sh empties
# at start. Unset: one process's own values (the laptop shape, worker embedded in `serve`).
PROMETHEUS_MULTIPROC_DIR = env_dir("PROMETHEUS_MULTIPROC_DIR")
# Count every SQL statement (circuitos_db_statements_total): `python -m bench webhook --vs-node-red` turns it on.
METRICS_DB_STATEMENTS = env_bool("METRICS_DB_STATEMENTS", False)
# Distinct circuits one process labels in execution series; further ones count as "other".
METRICS_MAX_CIRCUITS = env_int("METRICS_MAX_CIRCUITS", 500, minimum=1)

# --- Engine ------------------------------------------------------------------------------
ENGINE_INLINE_WAIT_SECONDS = float(env_int("ENGINE_INLINE_WAIT_SECONDS", 5, minimum=0))
ENGINE_LEASE_SECONDS = env_int("ENGINE_LEASE_SECONDS", 60, minimum=2)  # renewed every third of it while an execution runs
# Webhooks with `respond: wait` run in the web process, written once at the end (circuits/automation/engine/inline.py;
# needs PostgreSQL and Redis); off: a worker runs them and the request watches.
ENGINE_INLINE_RUNS = env_bool("ENGINE_INLINE_RUNS", True)
ENGINE_IDEMPOTENCY_KEEP_DAYS = env_int("ENGINE_IDEMPOTENCY_KEEP_DAYS", 7, minimum=1)  # how long record writes remember their key
ENGINE_BATCH_PURE_STEPS = env_bool("ENGINE_BATCH_PURE_STEPS", True)
# Executions that start each other through their side effects (record triggers, events,
# "circuit completed") stop after this many in a row, as Salesforce limits trigger recursion.
ENGINE_MAX_CHAIN_DEPTH = env_int("ENGINE_MAX_CHAIN_DEPTH", 10, minimum=1)
# The most a tenant may set each governor limit to (circuits/automation/engine/limits.py).
ENGINE_PLATFORM_MAX_STEPS = env_int("ENGINE_PLATFORM_MAX_STEPS", 100_000, minimum=1)
ENGINE_PLATFORM_MAX_LOOP_ITERATIONS = env_int("ENGINE_PLATFORM_MAX_LOOP_ITERATIONS", 100_000, minimum=1)
ENGINE_PLATFORM_MAX_SECONDS = env_int("ENGINE_PLATFORM_MAX_SECONDS", 3600, minimum=1)
ENGINE_PLATFORM_MAX_PAYLOAD_BYTES = env_int("ENGINE_PLATFORM_MAX_PAYLOAD_BYTES", 10_000_000, minimum=1)
ENGINE_PLATFORM_MAX_PARALLEL_BRANCHES = env_int("ENGINE_PLATFORM_MAX_PARALLEL_BRANCHES", 10, minimum=1)
ENGINE_PLATFORM_MAX_SUBCIRCUIT_DEPTH = env_int("ENGINE_PLATFORM_MAX_SUBCIRCUIT_DEPTH", 10, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "resume-due-executions": {"task": "circuits.automation.tasks.resume_due_executions", "schedule": float(env_int("ENGINE_RESUME_EVERY", 5, minimum=1))},
    "fire-due-schedules": {"task": "circuits.automation.tasks.fire_due_schedules", "schedule": float(env_int("ENGINE_SCHEDULE_EVERY", 15, minimum=1))},
    "prune-executions": {"task": "circuits.automation.tasks.prune_executions", "schedule": float(env_int("EXECUTION_PRUNE_EVERY", 600, minimum=10))},
}
# Execution history: finished executions are kept this many days by default (tenants may choose
# from 1 to the maximum, and a count per circuit); a beat task prunes in small batches.
EXECUTION_RETENTION_DAYS = env_int("EXECUTION_RETENTION_DAYS", 30, minimum=1)
EXECUTION_RETENTION_MAX_DAYS = env_int("EXECUTION_RETENTION_MAX_DAYS", 365, minimum=1)
EXECUTION_RETENTION_MAX_PER_CIRCUIT = env_int("EXECUTION_RETENTION_MAX_PER_CIRCUIT", 1_000_000, minimum=1)
if EXECUTION_RETENTION_DAYS > EXECUTION_RETENTION_MAX_DAYS:
    raise ImproperlyConfigured(f"EXECUTION_RETENTION_DAYS ({EXECUTION_RETENTION_DAYS}) must not exceed EXECUTION_RETENTION_MAX_DAYS.")

# --- Expressions (templates in circuit configs; docs/expressions.md) -----------------------
# Every render is bounded: a template past one of these limits fails with a clear error.
EXPRESSION_MAX_SOURCE_CHARS = env_int("EXPRESSION_MAX_SOURCE_CHARS", 20_000, minimum=100)  # one template's source
EXPRESSION_MAX_SECONDS = float(env_int("EXPRESSION_MAX_SECONDS", 2, minimum=1))  # wall time of one render
EXPRESSION_MAX_OUTPUT_CHARS = env_int("EXPRESSION_MAX_OUTPUT_CHARS", 1_000_000, minimum=1000)  # rendered text
EXPRESSION_MAX_VALUE_SIZE = env_int("EXPRESSION_MAX_VALUE_SIZE", 1_000_000, minimum=1000)  # characters/items of one value
EXPRESSION_MAX_TOTAL_SIZE = env_int("EXPRESSION_MAX_TOTAL_SIZE", 10_000_000, minimum=1000)  # all values and text one render makes
EXPRESSION_MAX_LOOP_ITERATIONS = env_int("EXPRESSION_MAX_LOOP_ITERATIONS", 100_000, minimum=1)  # loop items and items filters walk
EXPRESSION_MAX_CALLS = env_int("EXPRESSION_MAX_CALLS", 50_000, minimum=1)  # calls of helpers, filters, tests, methods; a macro call counts 10

# --- Demo --------------------------------------------------------------------------------
# The demo tenant's examples use a tiny local site, news feed and webhook inbox served by
# this app, so they work offline. On by default only with DEBUG.
DEMO_ENDPOINTS = env_bool("DEMO_ENDPOINTS", DEBUG)
DEMO_BASE_URL = env_url("DEMO_BASE_URL", ("http", "https")) or "http://127.0.0.1:8000"

# --- Retrieval (intelligence.rag) ---------------------------------------------------------
RAG_EMBEDDING_MODEL = env_str("RAG_EMBEDDING_MODEL", "minilm-onnx")
if RAG_EMBEDDING_MODEL not in ("minilm-onnx", "minilm-torch"):
    raise ImproperlyConfigured(f"RAG_EMBEDDING_MODEL={RAG_EMBEDDING_MODEL!r}: use minilm-onnx (default) or minilm-torch.")
RAG_EMBED_THREADS = env_int("RAG_EMBED_THREADS", 2, minimum=1)
RAG_EMBED_BATCH = env_int("RAG_EMBED_BATCH", 64, minimum=1)  # chunk ids per Celery task
RAG_EMBED_INLINE = env_bool("RAG_EMBED_INLINE", False)  # embed in the ingesting process (no worker)
RAG_MAX_UPLOAD_BYTES = env_int("RAG_MAX_UPLOAD_BYTES", 10 * 1024 * 1024, minimum=1024)
RAG_MAX_DOCUMENT_CHARS = env_int("RAG_MAX_DOCUMENT_CHARS", 2_000_000, minimum=1000)
RAG_MAX_CHUNKS_PER_DOCUMENT = env_int("RAG_MAX_CHUNKS_PER_DOCUMENT", 5000, minimum=1)
RAG_MAX_PDF_PAGES = env_int("RAG_MAX_PDF_PAGES", 500, minimum=1)
RAG_CHUNK_CHARS = env_int("RAG_CHUNK_CHARS", 800, minimum=100)
RAG_CHUNK_OVERLAP = env_int("RAG_CHUNK_OVERLAP", 150, minimum=0)
RAG_SPARSE_LAZY_ABOVE = env_int("RAG_SPARSE_LAZY_ABOVE", 20_000, minimum=0)  # tenants this big rebuild BM25 at most …
RAG_SPARSE_MAX_STALE_SECONDS = env_int("RAG_SPARSE_MAX_STALE_SECONDS", 30, minimum=0)  # … this often
RAG_EXACT_SCAN_BELOW = env_int("RAG_EXACT_SCAN_BELOW", 20_000, minimum=0)  # tenants with fewer vectors skip HNSW
RAG_HNSW_EF_SEARCH = env_int("RAG_HNSW_EF_SEARCH", 200, minimum=10)  # HNSW candidate list per query (bench/rag.py measures it)
if RAG_HNSW_EF_SEARCH > 1000:
    raise ImproperlyConfigured("RAG_HNSW_EF_SEARCH must be at most 1000 (pgvector's limit).")
RAG_REEMBED_EVERY = env_int("RAG_REEMBED_EVERY", 60, minimum=5)
CELERY_BEAT_SCHEDULE["rag-reembed-stale"] = {"task": "intelligence.rag.tasks.reembed_stale", "schedule": float(RAG_REEMBED_EVERY)}

# --- Models on records (intelligence.ml) ----------------------------------------------------
ML_TRAIN_INLINE = env_bool("ML_TRAIN_INLINE", False)  # train in the requesting process (no worker)
ML_CV_FOLDS = env_int("ML_CV_FOLDS", 5, minimum=2)
ML_TIME_BUDGET = float(env_int("ML_TIME_BUDGET", 30, minimum=1))  # seconds of cross-validation before the time box
ML_FOREST_TREES = env_int("ML_FOREST_TREES", 150, minimum=10)
ML_JOBS = env_int("ML_JOBS", 1, minimum=1)  # random forest processes
ML_THREADS = env_int("ML_THREADS", 1, minimum=1)  # OpenMP/BLAS threads while training or scoring
ML_GRIDS: dict | None = None  # None: intelligence.ml.automl.DEFAULT_GRIDS
ML_BOOTSTRAP_DRAWS = env_int("ML_BOOTSTRAP_DRAWS", 1000, minimum=50)
ML_IMPORTANCE_REPEATS = env_int("ML_IMPORTANCE_REPEATS", 3, minimum=1)
ML_TIME_SPLIT_MIN_DAYS = env_int("ML_TIME_SPLIT_MIN_DAYS", 1, minimum=0)  # records spread over fewer days split at random
ML_TRAIN_STALE_SECONDS = env_int("ML_TRAIN_STALE_SECONDS", 3600, minimum=60)  # a run queued or training longer is lost
ML_RETRAIN_CHECK_EVERY = env_int("ML_RETRAIN_CHECK_EVERY", 3600, minimum=60)
CELERY_BEAT_SCHEDULE["ml-retrain-due"] = {"task": "intelligence.ml.tasks.retrain_due", "schedule": float(ML_RETRAIN_CHECK_EVERY)}
