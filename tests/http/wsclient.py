"""A real WebSocket client for the live-server tests: autobahn's asyncio client (daphne's own
WebSocket library, so it is installed wherever the server is).

It runs in a subprocess: in the test process daphne has already bound autobahn's txaio to
twisted, and the asyncio flavour cannot be loaded next to it. The child prints one JSON line
per event ({"event": "open"}, {"event": "message", ...}, {"event": "close", "code": …}) and
holds the socket until told to stop (stdin closes) or the server closes it.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class LiveSocket:
    def __init__(self, host: str, port: int, path: str, cookie: str | None = None):
        args = [sys.executable, "-m", "tests.http.wsclient", host, str(port), path, cookie or ""]
        self.process = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events: list[dict] = []
        # Lines are read by a thread into a queue: frames that arrive together reach the pipe in
        # one read, and a select() on the pipe would not see the lines already buffered.
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_lines, daemon=True).start()

    def _read_lines(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put("")  # the child exited

    def next_event(self, timeout: float = 10) -> dict:
        """The child's next event (a line on its stdout); `{"event": "timeout"}` if none came."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return {"event": "timeout"}
        if not line:
            self._lines.put("")  # every later call sees the exit too
            return {"event": "exited", "stderr": self.process.stderr.read()[-2000:]}
        event = json.loads(line)
        self.events.append(event)
        return event

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> LiveSocket:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _main(host: str, port: int, path: str, cookie: str) -> None:
    import asyncio

    from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

    def emit(**event) -> None:
        print(json.dumps(event), flush=True)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        closed = loop.create_future()

        class Protocol(WebSocketClientProtocol):
            def onOpen(self):
                emit(event="open")

            def onMessage(self, payload, isBinary):
                emit(event="message", data=payload.decode("utf-8", "replace"))

            def onClose(self, wasClean, code, reason):
                emit(event="close", code=code, reason=reason)
                if not closed.done():
                    closed.set_result(None)

        headers = {"Origin": f"http://{host}:{port}"}
        if cookie:
            headers["Cookie"] = cookie
        factory = WebSocketClientFactory(f"ws://{host}:{port}{path}", headers=headers)
        factory.protocol = Protocol
        transport, protocol = await loop.create_connection(factory, host, port)
        stdin_closed = loop.run_in_executor(None, sys.stdin.read)
        await asyncio.wait([closed, stdin_closed], return_when=asyncio.FIRST_COMPLETED)
        if not closed.done():
            protocol.sendClose(1000)
            await asyncio.wait([closed], timeout=5)
        transport.close()

    asyncio.run(run())


if __name__ == "__main__":
    _main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")
