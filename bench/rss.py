"""Memory of the production shape at rest: `python -m bench rss`.

Starts `scripts/run.sh` (DEBUG=0, the DATABASE_URL and REDIS_URL given) on a free port,
waits for /health and for the process tree to settle, then prints every process it started
with its RSS and PSS in MiB, and the totals. RSS counts pages shared between processes
(the code of Python and its libraries, and what prefork children share with their parent
copy-on-write) once per process; PSS divides each shared page among the processes sharing
it, so the PSS total is the memory the whole shape really holds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from bench.common import ROOT, heading

TARGET_MIB = 400
SETTLE_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(root: int) -> list[int]:
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def _memory(pid: int) -> tuple[float, float] | None:
    """(RSS, PSS) in MiB, or None for a process that is gone."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    except OSError:
        return None
    return int(fields["Rss"].split()[0]) / 1024, int(fields["Pss"].split()[0]) / 1024


def _role(pid: int, parent_role: str = "") -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode(errors="replace") for a in argv if a)
    if "gunicorn" in text:
        return "web (uvicorn worker)" if parent_role.startswith("web") else "web (gunicorn master)"
    if "celery" in text and " beat" in text and " worker" not in text:
        return "celery beat"
    if "celery" in text and " worker" in text:
        # Forked children carry their parent's command line: the pool's children and the embedded beat (-B).
        return "celery worker (child or beat)" if parent_role.startswith("celery") else "celery worker"
    if "manage.py serve" in text:
        return "web (daphne + embedded worker)"
    if text.startswith(("bash", "/bin/bash", "/usr/bin/bash")):
        return "run.sh (bash)"
    return text[:40]


def _roles(root: int) -> dict[int, str]:
    tree, roles, todo = _children(), {root: _role(root)}, [root]
    while todo:
        pid = todo.pop()
        for child in tree.get(pid, []):
            roles[child] = _role(child, roles[pid])
            todo.append(child)
    return roles


def main() -> None:
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        print("\n== rss: needs DATABASE_URL (PostgreSQL) and REDIS_URL: the production shape runs on both")
        return
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "circuitos_site.settings",
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-rss-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
    }
    log_path = ROOT / "var" / "bench-rss.log"
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("w") as log:
        argv = ["bash", "scripts/run.sh", "127.0.0.1", str(port)]
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        counts = f"WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', 'CPUs')}, CELERY_CONCURRENCY={os.environ.get('CELERY_CONCURRENCY', 'CPUs')}"
        heading(f"rss: production shape at rest (scripts/run.sh, DEBUG=0, {len(os.sched_getaffinity(0))} CPUs, {counts})")
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"scripts/run.sh exited ({process.returncode}); see {log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:  # our loopback server
                    if response.status == 200:
                        break
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no answer from /health within 120 s; see {log_path}") from None
                time.sleep(0.5)
        # At rest: the same processes and a total that no longer grows (workers finish
        # starting, beat's first tick, the pool's first connections).
        previous: tuple[int, ...] = ()
        previous_total = 0.0
        settle_deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < settle_deadline:
            time.sleep(3)
            pids = tuple(sorted(_descendants(process.pid)))
            total = sum((_memory(pid) or (0.0, 0.0))[0] for pid in pids)
            if pids == previous and abs(total - previous_total) < 2:
                break
            previous, previous_total = pids, total
        rows = [(pid, role, _memory(pid)) for pid, role in _roles(process.pid).items()]
        rows = [(pid, role, mem) for pid, role, mem in rows if mem is not None]
        print(f"{'pid':>8}  {'process':<32} {'RSS MiB':>9} {'PSS MiB':>9}")
        for pid, role, (rss, pss) in rows:
            print(f"{pid:>8}  {role:<32} {rss:9.1f} {pss:9.1f}")
        rss_total = sum(mem[0] for _, _, mem in rows)
        pss_total = sum(mem[1] for _, _, mem in rows)
        print(f"{'':>8}  {'total':<32} {rss_total:9.1f} {pss_total:9.1f}")

        def verdict(total: float) -> str:
            return "met" if total <= TARGET_MIB else "NOT met"

        print(f"target ≤ {TARGET_MIB} MiB: RSS total {verdict(rss_total)}, PSS total {verdict(pss_total)}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
