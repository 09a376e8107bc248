"""A small HTTP load generator (used when `wrk` is not installed): keep-alive POSTs from threads.

Run as its own process: `python -m bench.loadgen URL SECONDS CONNECTIONS BODY` → JSON figures.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from urllib.parse import urlparse


def worker(url: str, until: float, body: bytes, latencies: list[float], statuses: dict[int, int], lock: threading.Lock) -> None:
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    local: list[float] = []
    local_status: dict[int, int] = {}
    while time.perf_counter() < until:
        started = time.perf_counter()
        conn.request("POST", parsed.path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        local.append((time.perf_counter() - started) * 1000)
        local_status[response.status] = local_status.get(response.status, 0) + 1
    with lock:
        latencies.extend(local)
        for status, n in local_status.items():
            statuses[status] = statuses.get(status, 0) + n


def main() -> None:
    url, seconds, connections, body = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    until = time.perf_counter() + seconds
    threads = [threading.Thread(target=worker, args=(url, until, body, latencies, statuses, lock)) for _ in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    print(json.dumps({"requests": len(latencies), "seconds": elapsed, "latencies": latencies, "statuses": statuses}))


if __name__ == "__main__":
    main()
