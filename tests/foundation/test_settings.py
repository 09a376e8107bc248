"""Settings come from the environment; bad values stop the site with the variable's name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup();"
    "print(json.dumps({'db': settings.DATABASES['default']['ENGINE'], 'layer': settings.CHANNEL_LAYERS['default']['BACKEND'],"
    "'broker': settings.CELERY_BROKER_URL, 'embedded': settings.CELERY_EMBEDDED, 'debug': settings.DEBUG, 'hosts': settings.ALLOWED_HOSTS}))"
)
_CLEARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
)


def run_settings(env: dict[str, str], code: str = PROBE) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    base["DJANGO_SETTINGS_MODULE"] = "circuitos_site.settings"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60)


def probe(env: dict[str, str]) -> dict:
    result = run_settings(env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_defaults_use_sqlite_memory_layer_and_in_process_broker():
    found = probe({"DEBUG": "1"})
    assert found["db"] == "django.db.backends.sqlite3"
    assert found["layer"] == "circuitos_site.channel_layer.LoopSafeInMemoryChannelLayer"
    assert found["broker"] == "memory://"
    assert found["embedded"] is True


def test_urls_switch_to_postgres_redis_layer_and_redis_broker():
    found = probe({"DEBUG": "0", "SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://u@db.example:5432/c", "REDIS_URL": "redis://cache.example:6379/1"})
    assert found["db"] == "django.db.backends.postgresql"
    assert found["layer"] == "channels_redis.core.RedisChannelLayer"
    assert found["broker"] == "redis://cache.example:6379/1"
    assert found["embedded"] is False
    assert found["hosts"] == []


def test_allowed_hosts_come_from_a_comma_separated_list():
    assert probe({"DEBUG": "1", "ALLOWED_HOSTS": "a.example, b.example"})["hosts"] == ["a.example", "b.example"]


def test_production_without_secret_key_refuses_to_start():
    result = run_settings({"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_malformed_boolean_names_the_variable():
    result = run_settings({"DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_malformed_database_url_names_the_variable():
    result = run_settings({"DEBUG": "1", "DATABASE_URL": "mysqlx://nowhere"})
    assert result.returncode != 0
    assert "DATABASE_URL must be a URL" in result.stderr


def test_malformed_integer_names_the_variable():
    result = run_settings({"DEBUG": "1", "EMAIL_PORT": "twenty-five"})
    assert result.returncode != 0
    assert "EMAIL_PORT must be an integer" in result.stderr


def test_an_hnsw_candidate_list_beyond_pgvectors_limit_is_refused_by_name():
    result = run_settings({"DEBUG": "1", "RAG_HNSW_EF_SEARCH": "5000"})
    assert result.returncode != 0
    assert "RAG_HNSW_EF_SEARCH must be at most 1000" in result.stderr


def test_a_pool_smaller_than_its_minimum_is_refused_by_name():
    result = run_settings({"DEBUG": "1", "DATABASE_URL": "postgres://u@127.0.0.1:5432/db", "DB_POOL_MIN": "9", "DB_POOL_MAX": "4"})
    assert result.returncode != 0
    assert "DB_POOL_MIN (9) must not exceed DB_POOL_MAX (4)" in result.stderr


def test_postgres_connections_come_from_a_bounded_pool_named_for_the_process():
    code = (
        "import json, django; from django.conf import settings; django.setup();"
        "d = settings.DATABASES['default']; print(json.dumps([d['CONN_MAX_AGE'], d['OPTIONS']]))"
    )
    result = run_settings({"DEBUG": "1", "DATABASE_URL": "postgres://u@127.0.0.1:5432/db", "DB_APPLICATION_NAME": "circuitos-web"}, code)
    assert result.returncode == 0, result.stderr
    max_age, options = json.loads(result.stdout.strip().splitlines()[-1])
    assert max_age == 0  # the pool keeps connections; Django returns each after a request
    assert options["application_name"] == "circuitos-web"
    assert (options["pool"]["min_size"], options["pool"]["max_size"], options["pool"]["timeout"]) == (1, 8, 10)


def test_check_deploy_is_clean_with_production_settings():
    env = {"DEBUG": "0", "SECRET_KEY": "k" * 30 + "Z9!x" * 10, "ALLOWED_HOSTS": "circuits.example"}
    code = "from django.core.management import execute_from_command_line as run; run(['m', 'check', '--deploy', '--fail-level', 'WARNING'])"
    result = run_settings(env, code)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
