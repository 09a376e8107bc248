"""Settings for the test suite: production settings with a test key and plain-HTTP cookies.

Everything else (database, Redis) still comes from the environment, so CI runs the suite
on PostgreSQL + pgvector and Redis while a laptop runs it on the embedded defaults.
"""

import os

os.environ.setdefault("SECRET_KEY", "circuitos-test-suite-key-not-secret")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
# pytest-xdist runs the suite in several processes against one Redis: each process gets its
# own channel, cache and queue names (pytest-django already gives each its own test database).
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_suffix = f"-{_worker}" if _worker else ""
os.environ.setdefault("CHANNELS_PREFIX", f"circuitos-test{_suffix}")
os.environ.setdefault("CACHE_PREFIX", f"circuitos-test{_suffix}")
# Tests drive executions themselves (or start their own workers on their own queues).
os.environ.setdefault("CELERY_QUEUE", f"circuitos-test{_suffix}")

from circuitos_site.settings import *  # noqa: E402, F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not the in-memory default: threads (parallel branches, the live server) then
    # share it through WAL with a busy timeout instead of failing on shared-cache table locks.
    # One file per test process, so two suites running at once never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-circuitos-{os.getpid()}.sqlite3")}  # noqa: F405

# Models (intelligence.ml): tiny grids and forests, fewer folds and draws, so a training run in
# a test takes well under a second; training runs in process unless a test starts a worker.
ML_GRIDS = {"logistic_regression": {"C": [1.0]}, "hist_gradient_boosting": {"max_iter": [40]}, "random_forest": {"min_samples_leaf": [3]}}
ML_FOREST_TREES = 20
ML_CV_FOLDS = 3
ML_BOOTSTRAP_DRAWS = 200
ML_IMPORTANCE_REPEATS = 1
ML_JOBS = 1
ML_TRAIN_INLINE = True
