"""The deployment files (#15): deploy/compose.yaml, the Dockerfile and .dockerignore.

The compose file is always checked: it parses, compose's variable interpolation refuses to
run without the secrets, every service is pinned and health-checked (or waits on one that
is), and the environment it gives the app loads the production settings. The image is built
only where Docker is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.foundation.test_settings import run_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
APP_SERVICES = ("migrate", "web", "worker", "worker-bulk", "beat")
SECRETS = {"SECRET_KEY": "k" * 50, "CREDENTIALS_KEY": "c" * 44, "POSTGRES_PASSWORD": "pw"}
# Compose's interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR.
VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


class Unset(Exception):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        present = env.get(name)
        missing = present is None or (present == "" and op is not None and op.startswith(":"))
        if op and op.endswith("?") and missing:
            raise Unset(f"{name}: {arg}")
        if op and op.endswith("-") and missing:
            return arg
        return present or ""

    return VARIABLE.sub(one, value)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def config() -> dict:
    return interpolate(yaml.safe_load(COMPOSE.read_text()), dict(SECRETS))


def test_the_compose_file_parses_and_starts_the_whole_shape(config):
    assert set(config["services"]) == {"db", "redis", "migrate", "web", "worker", "worker-bulk", "beat", "prometheus"}
    assert [name for name, service in config["services"].items() if service.get("profiles")] == ["prometheus"]  # only with --profile monitoring
    assert config["services"]["db"]["image"] == "pgvector/pgvector:0.8.0-pg15"
    assert "worker" in config["services"]["worker"]["command"] and "beat" in config["services"]["beat"]["command"]
    assert config["services"]["migrate"]["command"][-2:] == ["migrate", "--noinput"]


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_refuses_to_start_without_each_secret(secret):
    env = {k: v for k, v in SECRETS.items() if k != secret}
    with pytest.raises(Unset, match=secret):
        interpolate(yaml.safe_load(COMPOSE.read_text()), env)
    with pytest.raises(Unset, match=secret):  # set but empty is refused as well (:?)
        interpolate(yaml.safe_load(COMPOSE.read_text()), {**env, secret: ""})


def test_no_secret_value_is_written_in_the_compose_file(raw):
    for service in raw["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if re.search(r"SECRET|PASSWORD|KEY|TOKEN", name) and value:
                assert str(value).startswith("${"), f"{name} must come from a variable, not be written in the file"


def test_every_service_is_health_checked_or_waits_for_one_that_is(config):
    services = config["services"]
    for name, service in services.items():
        conditions = {dep: spec.get("condition") for dep, spec in (service.get("depends_on") or {}).items()}
        assert "healthcheck" in service or conditions, f"{name} has neither a healthcheck nor a depends_on condition"
        for dep, condition in conditions.items():
            assert condition in ("service_healthy", "service_completed_successfully"), f"{name} → {dep}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy but {dep} has no healthcheck"
        if "healthcheck" in service:
            assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")


def test_every_image_is_pinned(config):
    for name, service in config["services"].items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and "/" not in tag, f"{name}: {image} is not pinned to a version"
        if name in APP_SERVICES:
            assert service["build"]["dockerfile"] == "Dockerfile"


def test_the_app_services_get_what_the_production_settings_require(config):
    for name in APP_SERVICES:
        env = config["services"][name]["environment"]
        assert env["DEBUG"] == "0" and env["SECRET_KEY"] == SECRETS["SECRET_KEY"] and env["CREDENTIALS_KEY"] == SECRETS["CREDENTIALS_KEY"]
        assert env["DATABASE_URL"] == "postgres://circuitos:pw@db:5432/circuitos" and env["REDIS_URL"] == "redis://redis:6379/0"
        assert "localhost" in env["ALLOWED_HOSTS"].split(",")  # the web health check calls it by that name
        assert env["DB_APPLICATION_NAME"] == f"circuitos-{name}"


def test_the_compose_environment_loads_the_production_settings(config):
    """The settings module itself, with exactly the web service's environment (nothing is connected to)."""
    env = {k: str(v) for k, v in config["services"]["web"]["environment"].items()}
    env["CIRCUITOS_VAR_DIR"] = str(ROOT / "var")
    code = (
        "import json, django; from django.conf import settings; django.setup();"
        "print(json.dumps({'debug': settings.DEBUG, 'db': settings.DATABASES['default']['HOST'], 'broker': settings.CELERY_BROKER_URL,"
        "'embedded': settings.CELERY_EMBEDDED, 'queue': settings.CELERY_TASK_DEFAULT_QUEUE, 'ssl': settings.SECURE_SSL_REDIRECT}))"
    )
    result = run_settings(env, code)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {"debug": False, "db": "db", "broker": "redis://redis:6379/0", "embedded": False, "queue": "circuitos", "ssl": True}


def test_the_two_workers_between_them_consume_every_queue_each_its_own_kinds(config):
    """worker takes interactive, default and scheduled work, worker-bulk the bulk queue: loaded
    through the settings with each service's environment (CELERY_WORKER_KINDS, no -Q)."""
    consumed = {}
    for name in ("worker", "worker-bulk"):
        service = config["services"][name]
        assert "-Q" not in service["command"], f"{name}: the queues come from CELERY_WORKER_KINDS"
        env = {k: str(v) for k, v in service["environment"].items()}
        env["CIRCUITOS_VAR_DIR"] = str(ROOT / "var")
        code = (
            "import json, django; from django.conf import settings; django.setup(); from circuits.core.queues import queue_for;"
            "print(json.dumps([queue_for(kind) for kind in settings.CELERY_WORKER_KINDS]))"
        )
        result = run_settings(env, code)
        assert result.returncode == 0, result.stderr
        consumed[name] = json.loads(result.stdout.strip().splitlines()[-1])
    assert consumed == {"worker": ["circuitos.interactive", "circuitos", "circuitos.scheduled"], "worker-bulk": ["circuitos.bulk"]}


def test_the_monitoring_profiles_prometheus_scrapes_web_with_the_token_and_every_workers_own_port(config):
    prometheus = config["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    mounted = {volume.split(":")[0]: volume.split(":")[1] for volume in prometheus["volumes"] if volume.startswith("./")}
    assert mounted == {"./prometheus.yml": "/etc/prometheus/prometheus.yml", "./prometheus-alerts.yaml": "/etc/prometheus/alerts.yaml"}
    assert config["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"} and prometheus["secrets"] == ["metrics_token"]
    scrape = yaml.safe_load((COMPOSE.parent / "prometheus.yml").read_text())
    assert scrape["rule_files"] == ["/etc/prometheus/alerts.yaml"]
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    web = jobs["circuitos-web"]
    assert web["static_configs"][0]["targets"] == ["web:8000"]
    assert web["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}
    assert "web" in config["services"]["web"]["environment"]["ALLOWED_HOSTS"].split(",")  # Prometheus's Host header
    workers = jobs["circuitos-workers"]["dns_sd_configs"][0]
    assert set(workers["names"]) == {"worker", "worker-bulk"}
    for name in workers["names"]:
        env = config["services"][name]["environment"]
        assert env["WORKER_METRICS_PORT"] == str(workers["port"]) and env["WORKER_METRICS_ADDR"] == "0.0.0.0"
        # The prefork pool's children meet in a folder that starts empty with the container.
        assert env["PROMETHEUS_MULTIPROC_DIR"] in config["services"][name]["tmpfs"]


def test_the_dockerfile_is_slim_pinned_non_root_and_collects_static_at_build():
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", bases[-1]), bases
    assert all(re.search(r":\d+\.\d+\.\d+", base) for base in bases), f"every base image pinned to a full version: {bases}"
    assert re.search(r"pip install .*-r requirements/base.txt", text)
    assert "manage.py collectstatic --noinput" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r'^CMD \["bash", "scripts/run.sh", "0\.0\.0\.0", "8000"\]', text, re.M)
    assert "DEBUG=0" in text


def test_the_build_context_leaves_out_local_state_and_secrets():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "node_modules", "var", "staticfiles", ".env"} <= ignored


def docker_daemon() -> str | None:
    """The docker CLI, when a Docker daemon answers it (a CLI alone cannot build)."""
    cli = shutil.which("docker")
    if cli is None:
        return None
    try:
        answered = subprocess.run([cli, "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return cli if answered else None


DOCKER = docker_daemon()
NO_DOCKER = (
    "no Docker daemon on this machine (nor on CI's): the image is not built and `docker compose config` is not run here; "
    "the Dockerfile and compose file are checked statically by the tests above"
)


@pytest.mark.skipif(DOCKER is None, reason=NO_DOCKER)
def test_docker_compose_accepts_the_file_and_the_image_builds_to_run_as_non_root():
    env = {**os.environ, **SECRETS}
    if subprocess.run([DOCKER, "compose", "version"], capture_output=True, timeout=20).returncode == 0:
        subprocess.run([DOCKER, "compose", "-f", str(COMPOSE), "config", "--quiet"], cwd=ROOT, env=env, check=True, timeout=60)
    subprocess.run([DOCKER, "build", "-t", "circuitos:test", "."], cwd=ROOT, check=True, timeout=1800)
    uid = subprocess.run([DOCKER, "run", "--rm", "circuitos:test", "id", "-u"], capture_output=True, text=True, check=True, timeout=120).stdout.strip()
    assert uid != "0"
