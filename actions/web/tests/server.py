"""A real local HTTP(S) server for the web actions' tests.

`serve({path: handler})` starts a threading `http.server` on 127.0.0.1 (port 0) and yields a
`LocalServer`; a handler gets the request (method, path, query, headers, body) and returns
a `Reply`, or writes to the socket itself for slow/dripping/huge answers.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes


Handler = Callable[["Seen", BaseHTTPRequestHandler], "Reply | None"]


class LocalServer:
    def __init__(self, httpd: ThreadingHTTPServer, scheme: str) -> None:
        self.httpd = httpd
        self.scheme = scheme
        self.port = httpd.server_address[1]
        self.requests: list[Seen] = []
        self.stopping = threading.Event()  # wakes handlers that sleep on purpose
        self.sni_names: list[str | None] = []

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    @property
    def allow(self) -> str:
        """The allow-list entry naming exactly this server."""
        return f"127.0.0.1:{self.port}"


def _handler_class(routes: dict[str, Handler], server: list[LocalServer]) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            return

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True), {k.lower(): v for k, v in self.headers.items()}, body)
            server[0].requests.append(seen)
            route = routes.get(parts.path)
            reply = route(seen, self) if route else Reply(404, "not found")
            if reply is None:  # the handler wrote the response itself
                self.close_connection = True
                return
            payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    return _Handler


@contextlib.contextmanager
def serve(routes: dict[str, Handler], *, tls: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    holder: list[LocalServer] = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(routes, holder))
    httpd.daemon_threads = True
    httpd.block_on_close = False  # do not wait for handlers that sleep on purpose
    local = LocalServer(httpd, "https" if tls else "http")
    holder.append(local)
    if tls is not None:
        tls.sni_callback = lambda sock, name, ctx: local.sni_names.append(name)
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield local
    finally:
        local.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def reply(status: int = 200, body: bytes | str = b"", content_type: str = "text/plain; charset=utf-8", **headers: str) -> Handler:
    """A handler that always answers the same."""
    fixed = Reply(status, body, content_type, {k.replace("_", "-"): v for k, v in headers.items()})
    return lambda seen, raw: fixed


def redirect(location: str, status: int = 302) -> Handler:
    return reply(status, "", Location=location)


def echo(seen: Seen, raw: BaseHTTPRequestHandler) -> Reply:
    """Answers with what it received, as JSON."""
    import json

    return Reply(
        200,
        json.dumps({"method": seen.method, "path": seen.path, "query": seen.query, "headers": seen.headers, "body": seen.body.decode("utf-8", "replace")}),
        "application/json",
    )
