"""Slack and e-mail end their exchange at the step's deadline (ctx.deadline), against slow real local servers."""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from actions.notify.email import SendEmail as Email
from actions.notify.slack import SendSlackMessage as Slack
from actions.notify.tests.conftest import WEBHOOK_PATH, _Controller, allow
from actions.sdk import ActionError
from circuits.automation.engine.context import DirectContext
from circuits.tenancy.credentials import save_credential

pytestmark = pytest.mark.django_db

DEADLINE = 1.0
SLOW = 3.0
SLACK_TIME = 0.8


def ctx_until(tenant, seconds: float) -> DirectContext:
    return DirectContext(tenant=tenant, execution=None, node_key="n1", data={"trigger": {}, "steps": {}, "vars": {}}, deadline=time.monotonic() + seconds)


@pytest.fixture
def slow_slack(world) -> Iterator[dict]:
    """A webhook that would answer after SLOW seconds; records when the client hung up instead."""
    seen: dict = {"hung_up_after": None, "answered": False}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            started = time.monotonic()
            while time.monotonic() - started < SLOW:
                readable, _, _ = select.select([self.connection], [], [], 0.05)
                if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                    seen["hung_up_after"] = time.monotonic() - started
                    self.close_connection = True
                    return
            seen["answered"] = True
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    allow(world.tenant, port)
    save_credential(world.tenant, "slow-hook", "slack_webhook", {"url": f"http://127.0.0.1:{port}{WEBHOOK_PATH}"})
    try:
        yield seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_slack_post_ends_at_the_step_deadline_and_hangs_up(world, slow_slack):
    started = time.monotonic()
    with pytest.raises(ActionError, match="timed out"):
        Slack().run(ctx_until(world.tenant, DEADLINE), {"credential": "slow-hook", "text": "hi"})
    assert time.monotonic() - started < DEADLINE + SLACK_TIME
    time.sleep(0.3)  # the server notices the hang-up on its next poll
    assert slow_slack["hung_up_after"] is not None and slow_slack["hung_up_after"] < DEADLINE + SLACK_TIME
    assert not slow_slack["answered"]


def test_a_short_deadline_is_not_stretched_to_a_second(world, slow_slack):
    started = time.monotonic()
    with pytest.raises(ActionError):
        Slack().run(ctx_until(world.tenant, 0.3), {"credential": "slow-hook", "text": "hi"})
    assert time.monotonic() - started < 0.3 + SLACK_TIME * 0.5


class DrippingSmtp:
    """Answers each command after 0.6 s — every reply well inside a socket timeout of the deadline, all of them past it."""

    DRIP = 0.6

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        await asyncio.sleep(self.DRIP)
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await asyncio.sleep(self.DRIP)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(self.DRIP)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 accepted"


def test_an_smtp_exchange_is_cut_at_the_deadline_even_when_every_reply_is_quick_enough(world):
    handler = DrippingSmtp()
    controller = _Controller(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        allow(world.tenant, controller.port)
        save_credential(world.tenant, "drip", "smtp", {"host": "127.0.0.1", "port": controller.port, "from_email": "ops@acme.test"})
        started = time.monotonic()
        with pytest.raises(ActionError, match="did not finish before the step's deadline"):
            Email().run(ctx_until(world.tenant, DEADLINE), {"credential": "drip", "to": "ann@example.com", "subject": "Hi", "text": "x"})
        elapsed = time.monotonic() - started
        time.sleep(3 * DrippingSmtp.DRIP)
    finally:
        controller.stop()
    assert elapsed < DEADLINE + SLACK_TIME
    assert handler.messages == []
