"""Time from a step finishing to its WebSocket message arriving at a subscribed client."""

from __future__ import annotations

import asyncio
import time

from bench.common import bench_world, heading, report

STEPS = 10
RUNS = 10


def main() -> None:
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from bench.engine import _circuit
    from circuitos_site.asgi import application
    from circuits.automation.dispatch import create_execution
    from circuits.automation.engine.runner import run_now

    tenant, user = bench_world()
    circuit = _circuit(tenant, user, "bench-noop")
    heading("live: step finished → WebSocket message received (real consumer and channel layer)")

    async def one_run() -> list[float]:
        execution = await sync_to_async(create_execution)(circuit, {})
        communicator = WebsocketCommunicator(application, f"/ws/t/{tenant.slug}/executions/{execution.pk}/", headers=[(b"origin", b"http://localhost")])
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        await communicator.receive_json_from(timeout=5)  # snapshot
        runner = asyncio.ensure_future(sync_to_async(run_now, thread_sensitive=False)(execution))
        delays = []
        while True:
            message = await communicator.receive_json_from(timeout=10)
            if message["kind"] == "step.finished":
                delays.append((time.time() - message["ts"]) * 1000)
            if message["kind"] == "execution.finished":
                break
        await runner
        await communicator.disconnect()
        return delays

    async def all_runs() -> list[float]:
        samples: list[float] = []
        for _ in range(RUNS):
            samples += await one_run()
        return samples

    report(f"delivery delay ({STEPS} steps x {RUNS} runs)", asyncio.run(all_runs()))
