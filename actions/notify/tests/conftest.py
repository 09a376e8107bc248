"""Real local servers for the notify tests: an HTTP server playing Slack, an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from actions.sdk import Context
from circuits.automation.engine.context import DirectContext

WEBHOOK_PATH = "/services/T0001/B0002/s3cr3tW3bh00kT0k3n"
SMTP_USER = "mailer"
SMTP_PASSWORD = "smtp-pa55word-never-shown"  # noqa: S105 - a test server's password


def make_ctx(tenant, execution=None) -> Context:
    return DirectContext(tenant=tenant, execution=execution, node_key="n1", data={"trigger": {}, "steps": {}, "vars": {}})


def allow(tenant, port: int) -> None:
    tenant.outbound_allowlist = [f"127.0.0.1:{port}"]
    tenant.save(update_fields=["outbound_allowlist"])


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- Slack


@dataclass
class FakeSlack:
    port: int
    status: int = 200
    answer: str = "ok"
    received: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)  # lower-case names

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """An HTTP server on 127.0.0.1 answering like a Slack incoming webhook (status/answer settable)."""
    state: list[FakeSlack] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            server = state[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server.paths.append(self.path)
            server.headers.append({k.lower(): v for k, v in self.headers.items()})
            try:
                server.received.append(json.loads(body))
            except ValueError:
                server.received.append({"_raw": body.decode("utf-8", "replace")})
            payload = server.answer.encode()
            self.send_response(server.status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.append(FakeSlack(port=httpd.server_address[1]))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        httpd.shutdown()
        httpd.server_close()


# --------------------------------------------------------------------------- SMTP


class _Controller(Controller):
    """aiosmtpd's Controller on port 0: learn the real port before it pokes its own server."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class _Handler:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.refuse_recipients = False
        self.logins: list[tuple[str, str]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    handler: _Handler

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages


def _authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD:
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 that accepts AUTH (plain text, tests only) and keeps what it receives."""
    handler = _Handler()
    controller = _Controller(
        handler,
        hostname="127.0.0.1",
        port=0,
        authenticator=_authenticator,
        auth_require_tls=False,  # no certificate here; the login still goes over a real socket
        auth_required=False,
    )
    controller.start()
    try:
        yield SmtpServer(port=controller.port, handler=handler)
    finally:
        controller.stop()
