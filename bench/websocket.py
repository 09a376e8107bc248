"""Time from a step finishing to its WebSocket message arriving, while 100 executions/s run.

The load: a real Celery worker (bench.queue.start_worker) running the 3-step circuit, fed at
LOAD_RATE executions per second by a thread of this process, with a client listening to the
tenant's group (a dashboard) so the load's events are really sent. The measured executions (a
10-step circuit) are queued to the same worker (a queue of their own), so their events go through the same loaded
live-event publisher; a real consumer (the ASGI application, Redis channel layer) receives
them. The delay is `received - ts`, ts being the time the worker published the step's finish.
"""

from __future__ import annotations

import asyncio
import threading
import time

from bench.common import bench_world, heading, report

STEPS = 10
RUNS = 10
LOAD_RATE = 100  # executions per second in the background
# The measured executions' own queue, read by the same worker: a load the worker cannot keep up
# with must not queue them behind its backlog (the delay measured starts when a step finished).
MEASURED_QUEUE = "bench-live-measured"


def _feed(circuit, stop: threading.Event, counter: list[int]) -> None:
    from django.db import connection

    from circuits.automation.dispatch import create_execution, send_to_worker

    try:
        next_at = time.perf_counter()
        while not stop.is_set():
            send_to_worker(create_execution(circuit, {"n": counter[0]}).pk)
            counter[0] += 1
            next_at += 1 / LOAD_RATE
            pause = next_at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
    finally:
        connection.close()


def main() -> None:
    from asgiref.sync import sync_to_async
    from celery import current_app
    from channels.testing import WebsocketCommunicator
    from django.conf import settings

    from bench.engine import _circuit
    from bench.queue import start_worker, three_step
    from circuitos_site.asgi import application
    from circuits.automation.dispatch import create_execution
    from circuits.automation.models.execution import Execution
    from circuits.automation.tasks import run_execution
    from circuits.core import live

    tenant, user = bench_world()
    circuit = _circuit(tenant, user, "bench-noop")
    load = three_step(tenant, user, "bench-three")
    heading(f"live: step finished → WebSocket message received, {LOAD_RATE} executions/s running (worker, Redis channel layer)")

    async def one_run() -> list[float]:
        execution = await sync_to_async(create_execution)(circuit, {})
        communicator = WebsocketCommunicator(application, f"/ws/t/{tenant.slug}/executions/{execution.pk}/", headers=[(b"origin", b"http://localhost")])
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        await communicator.receive_json_from(timeout=5)  # snapshot
        await sync_to_async(run_execution.apply_async)((execution.pk,), queue=MEASURED_QUEUE)
        delays: list[float] = []
        seen: set[str] = set()
        while True:
            message = await communicator.receive_json_from(timeout=30)
            if message["kind"] == "step.finished" and message["node"] not in seen:
                seen.add(message["node"])  # once per step (the socket may hear it through two groups)
                delays.append((time.time() - message["ts"]) * 1000)
            if message["kind"] == "execution.finished":
                break
        await communicator.disconnect()
        return delays

    async def all_runs() -> tuple[list[float], float]:
        samples: list[float] = []
        stop, counter = threading.Event(), [0]
        live.mark_listening([live.tenant_group(tenant.pk)])  # a dashboard listens: the load's events are sent
        feeder = threading.Thread(target=_feed, args=(load, stop, counter), daemon=True)
        started = time.perf_counter()
        feeder.start()
        try:
            await asyncio.sleep(2)  # the load is under way
            for _ in range(RUNS):
                samples += await one_run()
        finally:
            stop.set()
            feeder.join()
        return samples, counter[0] / (time.perf_counter() - started)

    worker = start_worker(extra_queues=(MEASURED_QUEUE,))
    try:
        time.sleep(3)  # let the worker connect
        samples, rate = asyncio.run(all_runs())
        backlog = Execution.objects.filter(circuit=load, finished_at__isnull=True).count()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    Execution.objects.filter(circuit=load, finished_at__isnull=True).delete()  # the load's leftovers, and their messages
    with current_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    print(f"{'background load fed':<58} {rate:9.1f} executions/s   ({backlog} still queued at the end)")
    report(f"delivery delay ({STEPS} steps x {RUNS} runs)", samples)
