"""Executions per second for a 3-step circuit through the task queue (a real Celery worker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.common import ROOT, bench_world, heading, report

COUNT = 300


def three_step(tenant, user, slug: str, respond_webhook: bool = False):
    from circuits.automation.models.circuit import Circuit
    from circuits.automation.services.circuits import CreateCircuit
    from circuits.automation.services.versions import PublishDraft, SaveDraft, SaveTrigger

    existing = Circuit.objects.for_tenant(tenant).filter(slug=slug).first()
    if existing:
        return existing
    circuit = CreateCircuit(tenant, user, name=slug, slug=slug).execute()
    nodes = [
        {"key": "set", "action": "util.set_variable", "config": {"variables": {"n": "{{ trigger.body.n if trigger.body is defined else trigger.n }}"}}},
        {"key": "check", "action": "control.if", "config": {"condition": "{{ vars.n is not none and vars.n >= 0 }}"}},
        {"key": "respond", "action": "control.stop", "config": {"output": {"ok": True, "n": "{{ vars.n }}"}}},
    ]
    edges = [{"source": "trigger", "target": "set"}, {"source": "set", "target": "check"}, {"source": "check", "port": "true", "target": "respond"}]
    SaveDraft(tenant, user, circuit, {"nodes": nodes, "edges": edges}).execute()
    if respond_webhook:
        SaveTrigger(tenant, user, circuit, type="webhook", config={"respond": "wait"}).execute()
    PublishDraft(tenant, user, circuit).execute()
    return circuit


def start_worker(extra_queues: tuple[str, ...] = ()):
    from django.conf import settings

    from circuits.core.queues import all_queues

    if settings.CELERY_EMBEDDED:
        from circuits.management.commands.serve import start_embedded_worker

        start_embedded_worker(concurrency=2)
        return None
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "circuitos_site.settings_test"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "circuitos_site",
            "worker",
            "-Q",
            ",".join((*all_queues(), *extra_queues)),
            "-c",
            "2",
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
    )


def main() -> None:
    from circuits.automation.dispatch import create_execution, send_to_worker
    from circuits.automation.models.execution import Execution

    tenant, user = bench_world()
    circuit = three_step(tenant, user, "bench-three")
    heading(f"task queue: {COUNT} executions of webhook-shaped set → if → respond, 2 worker slots")
    worker = start_worker()
    try:
        time.sleep(2)  # let the worker connect
        started = time.perf_counter()
        ids = []
        for n in range(COUNT):
            execution = create_execution(circuit, {"n": n})
            send_to_worker(execution.pk)
            ids.append(execution.pk)
        while Execution.objects.filter(pk__in=ids, finished_at__isnull=True).exists():
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    done = Execution.objects.filter(pk__in=ids)
    failed = done.exclude(status="succeeded").count()
    latencies = [(e.finished_at - e.created_at).total_seconds() * 1000 for e in done]
    print(f"{'throughput':<58} {COUNT / elapsed:9.1f} executions/s   ({failed} not succeeded)")
    report("latency created → finished", latencies)
