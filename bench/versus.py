"""`python -m bench webhook --vs-node-red`: the webhook circuit beside Node-RED's twin flow, alternating.

Circuit OS runs in its production shape (scripts/run.sh, DEBUG=0: gunicorn + uvicorn workers,
a Celery worker; PostgreSQL + Redis required), the circuit webhook → set → if → respond with
`respond: wait`, so every answer carries the circuit's output and every execution and step is
kept. Node-RED 4.1 runs `http in → change → switch → http response` (bench/node_red.py) and keeps
nothing. Same payload, same load: `wrk -t1 -c16` when installed, else bench/loadgen.py (Python
threads, 16 connections — it then shares the CPUs with the servers and caps what they can show).

Per run it prints req/s, p50/p99, the CPU per request of the web processes (the gunicorn master
and its workers; Node-RED's one process) and of PostgreSQL (the backends connected to this
database, from /proc), SQL statements per request (pg_stat_statements when the server loads it,
else the app's own counter, METRICS_DB_STATEMENTS, read from /metrics) and the ratio.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

from bench import node_red
from bench.common import ROOT, bench_world, heading, percentile
from bench.webhook import _free_port, _python_load, _wrk

PAYLOAD = '{"score": 70, "lead": {"email": "a@b.test"}}'
SECONDS = int(os.environ.get("BENCH_SECONDS", 10))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
CONNECTIONS = 16
TICK = os.sysconf("SC_CLK_TCK")


def lead_circuit(tenant, user, slug: str = "bench-lead") -> str:
    """The webhook circuit (same as tests/engine/test_inline_runs.py's); its webhook token."""
    from circuits.automation.models.circuit import Circuit
    from circuits.automation.services.circuits import CreateCircuit
    from circuits.automation.services.versions import PublishDraft, SaveDraft, SaveTrigger

    circuit = Circuit.objects.for_tenant(tenant).filter(slug=slug).first()
    if circuit is None:
        circuit = CreateCircuit(tenant, user, name=slug, slug=slug).execute()
        nodes = [
            {
                "key": "set",
                "action": "util.set_variable",
                "config": {"variables": {"email": "{{ trigger.body.lead.email }}", "score": "{{ trigger.body.score }}"}},
            },
            {"key": "check", "action": "control.if", "config": {"condition": "{{ vars.score >= 50 }}"}},
            {"key": "respond", "action": "control.stop", "config": {"output": {"body": "{{ trigger.body }}", "greeting": "Hello {{ vars.email }}"}}},
        ]
        edges = [{"source": "trigger", "target": "set"}, {"source": "set", "target": "check"}, {"source": "check", "port": "true", "target": "respond"}]
        SaveDraft(tenant, user, circuit, {"nodes": nodes, "edges": edges}).execute()
        SaveTrigger(tenant, user, circuit, type="webhook", config={"respond": "wait"}).execute()
        PublishDraft(tenant, user, circuit).execute()
    return circuit.triggers.get().webhook_token


# --- CPU from /proc -----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def web_processes(run_sh: int) -> list[int]:
    """The gunicorn master that scripts/run.sh started, and its uvicorn workers."""
    for child in children(run_sh):
        try:
            if b"gunicorn" in Path(f"/proc/{child}/cmdline").read_bytes():
                return [child, *children(child)]
        except OSError:
            continue
    return []


def postgres_backends() -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return [row[0] for row in cursor.fetchall()]


class CpuMeter:
    """CPU seconds of a set of processes between start() and stop(); processes that appear meanwhile count whole."""

    def __init__(self, pids) -> None:
        self.pids = pids  # a callable giving the current processes
        self.before: dict[int, float] = {}

    def start(self) -> None:
        self.before = {pid: cpu_seconds(pid) for pid in self.pids()}

    def stop(self) -> float:
        now = {pid: cpu_seconds(pid) for pid in set(self.pids()) | set(self.before)}
        return sum(max(0.0, value - self.before.get(pid, 0.0)) for pid, value in now.items())


# --- SQL statements -------------------------------------------------------------------------------


def pg_stat_statements_calls() -> float | None:
    from django.db import DatabaseError, connection, transaction

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            return float(cursor.fetchone()[0])
    except DatabaseError:
        return None


def app_statements(base_url: str) -> float:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:  # loopback: the scraper's trust
        text = response.read().decode()
    return sum(float(m) for m in re.findall(r"^circuitos_db_statements_total(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M))


# --- one run ------------------------------------------------------------------------------------


def load(url: str) -> dict:
    result = _wrk(url, PAYLOAD, threads=1, connections=CONNECTIONS, seconds=SECONDS)
    if result is not None:
        return result
    result = _python_load(url, PAYLOAD, connections=CONNECTIONS, seconds=SECONDS)
    latencies = result.pop("latencies")
    result.update(p50=statistics.median(latencies) if latencies else 0.0, p99=percentile(latencies, 99) if latencies else 0.0)
    return result


def run_once(name: str, url: str, web: CpuMeter, pg: CpuMeter | None, statements) -> dict:
    sql_before = statements() if statements else None
    web.start()
    if pg is not None:
        pg.start()
    result = load(url)
    web_cpu = web.stop()
    pg_cpu = pg.stop() if pg is not None else 0.0
    requests = max(1.0, result["rps"] * SECONDS)
    result.update(
        name=name,
        web_ms=web_cpu / requests * 1000,
        pg_ms=pg_cpu / requests * 1000,
        sql=(statements() - sql_before) / requests if statements else None,
    )
    return result


def show(result: dict) -> None:
    sql = f"{result['sql']:6.1f}" if result.get("sql") is not None else "     —"
    print(
        f"{result['name']:<14} {result['rps']:9.1f} req/s   p50 {result['p50']:7.2f} ms   p99 {result['p99']:7.2f} ms   "
        f"CPU/req web {result['web_ms']:6.2f} ms  PostgreSQL {result['pg_ms']:6.2f} ms   SQL/req {sql}   non-2xx {result['non2xx']}   ({result['tool']})"
    )


def main() -> None:
    from django.conf import settings

    from circuits.automation.models.execution import Execution, StepRun

    if not (settings.USES_POSTGRES and os.environ.get("REDIS_URL")):
        print("\n== webhook --vs-node-red needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL): the production shape")
        return
    tenant, user = bench_world("hooks")
    token = lead_circuit(tenant, user)
    port, nr_port = _free_port(), _free_port()
    metrics_dir = ROOT / "var" / "bench-metrics"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "circuitos_site.settings_test",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": str(ROOT / "var" / "bench-static"),
        "METRICS_DB_STATEMENTS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    heading(f"webhook → set → if → respond beside Node-RED {node_red.VERSION}: {CONNECTIONS} connections, {SECONDS} s per run, {ROUNDS} rounds alternating")
    red = node_red.start(nr_port)
    argv = ["bash", "scripts/run.sh", "127.0.0.1", str(port)]
    ours = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        url = f"{base}/hooks/{token}"
        while True:
            try:
                request = urllib.request.Request(url, data=PAYLOAD.encode(), headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = json.loads(response.read())
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("Circuit OS did not answer within 120 s") from None
                time.sleep(0.5)
        print(f"Circuit OS answers {json.dumps(answer['output'])}")
        red_url = f"http://127.0.0.1:{nr_port}{node_red.PATH}"
        with urllib.request.urlopen(urllib.request.Request(red_url, data=PAYLOAD.encode(), headers={"Content-Type": "application/json"})) as response:
            print(f"Node-RED answers   {response.read().decode()}")
        pg_counter = pg_stat_statements_calls()
        statements = pg_stat_statements_calls if pg_counter is not None else (lambda: app_statements(base))
        print(f"SQL statements counted by {'pg_stat_statements' if pg_counter is not None else 'the app (METRICS_DB_STATEMENTS)'}")
        web = CpuMeter(lambda: web_processes(ours.pid))
        pg = CpuMeter(postgres_backends)
        red_meter = CpuMeter(lambda: [red.pid])
        executions_before = Execution.objects.filter(circuit__slug="bench-lead").count()
        steps_before = StepRun.objects.filter(execution__circuit__slug="bench-lead").count()
        runs: dict[str, list[dict]] = {"Circuit OS": [], "Node-RED": []}
        for _ in range(ROUNDS):
            runs["Circuit OS"].append(run_once("Circuit OS", url, web, pg, statements))
            show(runs["Circuit OS"][-1])
            runs["Node-RED"].append(run_once("Node-RED", red_url, red_meter, None, None))
            show(runs["Node-RED"][-1])
        kept = Execution.objects.filter(circuit__slug="bench-lead").count() - executions_before
        steps = StepRun.objects.filter(execution__circuit__slug="bench-lead").count() - steps_before
        served = sum(r["rps"] * SECONDS - r["non2xx"] for r in runs["Circuit OS"])
        ratio = statistics.median(r["rps"] for r in runs["Circuit OS"]) / statistics.median(r["rps"] for r in runs["Node-RED"])
        print(f"{'executions kept':<58} {kept} (≈{served:.0f} answered), {steps} steps")
        print(f"{'ratio of medians (Circuit OS / Node-RED req/s)':<58} {ratio:.3f}   (target ≥ 0.25)")
    finally:
        os.killpg(ours.pid, signal.SIGTERM)
        os.killpg(red.pid, signal.SIGTERM)
        ours.wait(timeout=30)
        red.wait(timeout=30)
