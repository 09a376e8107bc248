"""WORKER_METRICS_PORT: each Celery worker serves its own Prometheus series (#15).

Steps and finished executions are counted in the worker that runs them; a real worker with the
port set answers them over HTTP — a prefork worker summing its children's files, a threads
worker its own registry — and a prefork worker without a multiprocess folder refuses to start.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.models.execution import Execution, ExecutionStatus
from tests.engine.helpers import build, chain, node
from tests.engine.workers import ROOT, _env, own_queue, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis
from tests.live import free_port

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]


def _scrape(port: int) -> dict[tuple[str, frozenset], float] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # the loopback test worker
            text = response.read().decode()
    except OSError:
        return None
    return {(s.name, frozenset(s.labels.items())): s.value for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_a_worker_with_the_port_set_answers_the_series_of_the_runs_it_did(world, settings, tmp_path, pool):
    queue = own_queue(settings)
    circuit = build(world, f"counted-{pool}", [node("a", "util.transform", {"template": "x"}), node("b", "util.transform", {"template": "y"})], chain("a", "b"))
    port = free_port()
    env = {"WORKER_METRICS_PORT": str(port)}
    if pool == "prefork":
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    worker = start_worker(queue, pool=pool, concurrency=1, env=env, log=f"worker-metrics-{pool}.log")
    try:
        before = wait_for(lambda: _scrape(port), timeout=60, what="the worker's metrics port")
        assert _value(before, "circuitos_executions_finished_total", circuit=f"acme/counted-{pool}", status="succeeded") == 0
        execution = create_execution(circuit, {})
        enqueue(execution)
        wait_for(lambda: Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.SUCCEEDED).exists(), timeout=60, what="the worker to run it")

        def counted():
            samples = _scrape(port) or {}
            finished = _value(samples, "circuitos_executions_finished_total", circuit=f"acme/counted-{pool}", status="succeeded")
            return samples if finished == 1 else None

        after = wait_for(counted, timeout=10, what="the finished execution in the worker's metrics")
    finally:
        stop(worker)
    assert _value(after, "circuitos_step_duration_seconds_count", action="util.transform", status="succeeded") == 2
    assert _value(after, "circuitos_executions_started_total", circuit=f"acme/counted-{pool}", how="start") == 1


def test_a_prefork_worker_without_a_multiprocess_folder_refuses_the_metrics_port(settings):
    queue = own_queue(settings)
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "circuitos_site", "worker", "--pool=prefork", "-c", "1", "-l", "WARNING"],
        cwd=ROOT,
        env={k: v for k, v in _env(queue, 60, WORKER_METRICS_PORT=str(free_port())).items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        capture_output=True,
        text=True,
        timeout=120,  # a worker that started anyway would run until this
    )
    assert result.returncode != 0
    assert "WORKER_METRICS_PORT with the prefork pool needs PROMETHEUS_MULTIPROC_DIR" in result.stderr
