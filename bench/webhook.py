"""Webhook → set → if → respond over HTTP, load from a separate process (wrk when installed).

Two modes: `respond: wait` (a worker — embedded in `manage.py serve` by default — runs the
circuit while the request waits, and the answer carries its output; every execution and step
persisted) and `respond: immediately` (202 + queued).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from bench.common import ROOT, bench_world, heading, report

SECONDS = 10
CONNECTIONS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _circuit(tenant, user, slug: str, respond: str):
    from bench.queue import three_step
    from circuits.automation.services.versions import SaveTrigger

    circuit = three_step(tenant, user, slug)
    trigger = circuit.triggers.first()
    if trigger is None:
        trigger = SaveTrigger(tenant, user, circuit, type="webhook", config={"respond": respond}).execute()
    return trigger.webhook_token


def _wrk(url: str, body: str = '{"n": 7}', threads: int = 2, connections: int = CONNECTIONS, seconds: int = SECONDS) -> dict | None:
    if not shutil.which("wrk"):
        return None
    script = ROOT / "var" / "bench-post.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n')
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "non2xx": int(errors.group(1)) if errors else 0, "tool": "wrk"}


def _python_load(url: str, body: str = '{"n": 7}', connections: int = CONNECTIONS, seconds: int = SECONDS) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", url, str(seconds), str(connections), body], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    data = json.loads(out)
    ok = sum(n for status, n in data["statuses"].items() if 200 <= int(status) < 300)
    return {"rps": data["requests"] / data["seconds"], "latencies": data["latencies"], "non2xx": data["requests"] - ok, "tool": "python loadgen"}


def main() -> None:
    if "--vs-node-red" in sys.argv:
        from bench.versus import main as versus

        return versus()
    from circuits.automation.models.execution import Execution

    tenant, user = bench_world("hooks")
    tokens = {mode: _circuit(tenant, user, f"bench-hook-{mode}", mode) for mode in ("wait", "immediately")}
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "circuitos_site.settings_test"}
    # BENCH_SHAPE=production: scripts/run.sh with DEBUG=0 (gunicorn + uvicorn workers, a
    # Celery worker; needs REDIS_URL); otherwise the one-process `manage.py serve`.
    production = os.environ.get("BENCH_SHAPE") == "production"
    if production:
        env = {**env, "DEBUG": "0", "LOG_LEVEL": "WARNING", "STATIC_ROOT": str(ROOT / "var" / "bench-static")}
        argv = ["bash", "scripts/run.sh", "127.0.0.1", str(port)]
    else:
        argv = [sys.executable, "manage.py", "serve", "--port", str(port)]
    heading(f"webhook bench: {'production shape (scripts/run.sh, DEBUG=0)' if production else 'one process (manage.py serve)'}")
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        for mode, token in tokens.items():
            heading(f"webhook over HTTP, respond={mode}: {CONNECTIONS} connections for {SECONDS}s")
            before = Execution.objects.filter(circuit__slug=f"bench-hook-{mode}").count()
            url = f"http://127.0.0.1:{port}/hooks/{token}"
            probe = urllib.request.Request(url, data=b'{"n": 1}', headers={"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(probe, timeout=30)
            except urllib.error.HTTPError as exc:
                print(f"the webhook answered {exc.code}: {exc.read()[:300]!r}")
                continue
            result = _wrk(url) or _python_load(url)
            kept = Execution.objects.filter(circuit__slug=f"bench-hook-{mode}").count() - before
            print(f"{'throughput (' + result['tool'] + ')':<58} {result['rps']:9.1f} requests/s   non-2xx {result['non2xx']}   executions kept {kept}")
            if "latencies" in result:
                report("latency", result["latencies"])
            else:
                print(f"{'latency':<58} median {result['p50']:9.3f} ms   p99 {result['p99']:9.3f} ms")
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # run.sh stops what it started; serve stops its threads
        server.wait(timeout=30)
