"""A step that times out is over at its deadline: its I/O is cut off and nothing it does later counts.

Issue #9: a timed-out step's thread kept running, so its answer (or a variable it set) could
still land after the retry had run. Now built-in actions hand the step's deadline to their
sockets, and the engine discards any result that arrives after the deadline. Each test runs
against a real local server that answers in 3 s while the step may take 1 s.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from actions.notify.tests.conftest import _Controller
from actions.sdk import Action, ActionError, Context, registry
from actions.web.tests.server import Reply, Seen, serve
from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.engine import runner
from circuits.automation.models.execution import Execution, ExecutionStatus, StepStatus
from circuits.tenancy.credentials import save_credential
from tests.engine.helpers import build, chain, node, run
from tests.engine.workers import new_queue, start_worker, stop, wait_for
from tests.fixtures import needs_postgres, needs_redis

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = 3.0  # how long the far side takes the first time
STEP_TIMEOUT = 1.0
SLACK = 0.8  # scheduling on a busy 2-core machine
RETRY = {"max_attempts": 2, "backoff_seconds": 0.1}


def _left_before(sock: socket.socket, seconds: float) -> bool:
    """Wait up to `seconds` for the client to hang up; True if it did."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], min(left, 0.05))
        if readable and sock.recv(1, socket.MSG_PEEK) == b"":
            return True
    return False


class SlowOnce:
    """An HTTP route that takes SLOW seconds to answer its first request and answers later ones at once."""

    def __init__(self) -> None:
        self.arrived: list[float] = []
        self.hung_up_after: list[float] = []  # seconds from the request to the client's disconnect
        self.answered: list[str] = []  # the effect: each answer the far side completed

    def __call__(self, seen: Seen, raw: BaseHTTPRequestHandler) -> Reply | None:
        self.arrived.append(time.monotonic())
        answer = "late" if len(self.arrived) == 1 else "fresh"
        if answer == "late" and _left_before(raw.connection, SLOW):
            self.hung_up_after.append(time.monotonic() - self.arrived[0])
            return None  # nobody is listening any more: nothing is answered
        self.answered.append(answer)
        return Reply(200, json.dumps({"answer": answer}), "application/json")


@pytest.fixture
def slow_http(world) -> Iterator[tuple[str, SlowOnce]]:
    route = SlowOnce()
    with serve({"/slow": route}) as server:
        world.tenant.outbound_allowlist = [server.allow]
        world.tenant.save(update_fields=["outbound_allowlist"])
        yield server.url("/slow"), route


def _attempts(execution, key: str) -> list:
    return list(execution.steps.filter(node_key=key).order_by("attempt", "pk"))


def _assert_timed_out_then_retried(execution, key: str) -> None:
    first, second = _attempts(execution, key)
    assert first.status == StepStatus.FAILED and first.error["type"] == "timeout", first.error
    assert first.duration_ms < (STEP_TIMEOUT + SLACK) * 1000, f"the timed-out attempt took {first.duration_ms} ms"
    assert second.attempt == 2 and second.status == StepStatus.SUCCEEDED


def test_an_http_step_times_out_at_its_deadline_and_its_connection_is_closed(world, slow_http):
    url, route = slow_http
    circuit = build(
        world,
        "slow-http",
        [
            node("call", "web.http_request", {"method": "POST", "url": url, "body_type": "json", "body": {"n": 1}}, timeout_seconds=STEP_TIMEOUT, retry=RETRY),
            node("keep", "util.set_variable", {"variables": {"answer": "{{ steps.call.output.body.answer }}"}}),
        ],
        chain("call", "keep"),
    )
    execution = run(circuit)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    _assert_timed_out_then_retried(execution, "call")
    # The far side saw the first connection go at the deadline, long before it would have answered.
    assert len(route.hung_up_after) == 1 and route.hung_up_after[0] < STEP_TIMEOUT + SLACK
    assert route.answered == ["fresh"]
    assert execution.vars == {"answer": "fresh"}
    assert "late" not in json.dumps([s.output for s in execution.steps.all()])


@needs_postgres()
@needs_redis()
def test_in_a_real_worker_a_timed_out_http_step_is_retried_and_its_answer_recorded_once(world, slow_http, settings):
    url, route = slow_http
    settings.CELERY_TASK_DEFAULT_QUEUE = queue = new_queue()
    circuit = build(
        world,
        "slow-http-worker",
        [node("call", "web.http_request", {"method": "POST", "url": url, "body_type": "json", "body": {"n": 1}}, timeout_seconds=STEP_TIMEOUT, retry=RETRY)],
        chain("call"),
    )
    worker = start_worker(queue, log="timeouts-worker.log")
    try:
        execution = create_execution(circuit, {})
        enqueue(execution)
        execution = wait_for(lambda: Execution.objects.filter(pk=execution.pk, status__in=["succeeded", "failed"]).first(), what="the execution")
    finally:
        stop(worker)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    _assert_timed_out_then_retried(execution, "call")
    assert len(route.hung_up_after) == 1 and route.hung_up_after[0] < STEP_TIMEOUT + SLACK
    assert route.answered == ["fresh"]
    assert execution.output["body"] == {"answer": "fresh"}


# --------------------------------------------------------------------------- SMTP


class SlowFirstData:
    """aiosmtpd handler: the first message's DATA takes SLOW seconds; a client that hangs up meanwhile delivers nothing."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.cut_after: list[float] = []
        self.calls = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.calls += 1
        if self.calls == 1:
            started = time.monotonic()
            try:
                await asyncio.sleep(SLOW)
            except asyncio.CancelledError:  # aiosmtpd cancels the session when the client disconnects
                self.cut_after.append(time.monotonic() - started)
                raise
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


@pytest.fixture
def slow_smtp(world) -> Iterator[SlowFirstData]:
    handler = SlowFirstData()
    controller = _Controller(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        world.tenant.outbound_allowlist = [f"127.0.0.1:{controller.port}"]
        world.tenant.save(update_fields=["outbound_allowlist"])
        save_credential(world.tenant, "slow-smtp", "smtp", {"host": "127.0.0.1", "port": controller.port, "from_email": "ops@acme.test"})
        yield handler
    finally:
        controller.stop()


def test_an_email_step_times_out_at_its_deadline_and_the_retry_delivers_it_once(world, slow_smtp):
    mail = {"credential": "slow-smtp", "to": "ann@example.com", "subject": "Invoice", "text": "Your invoice."}
    circuit = build(world, "slow-mail", [node("mail", "notify.email", mail, timeout_seconds=STEP_TIMEOUT, retry=RETRY)], chain("mail"))
    execution = run(circuit)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    _assert_timed_out_then_retried(execution, "mail")
    # The server saw the first session end at the deadline, while it still held the message.
    assert len(slow_smtp.cut_after) == 1 and slow_smtp.cut_after[0] < STEP_TIMEOUT + SLACK
    assert len(slow_smtp.messages) == 1


class DrippingFirstSession(SlowFirstData):
    """Answers every command of the first session after 0.6 s: each reply within a socket timeout, the whole well past the deadline."""

    DRIP = 0.6

    async def _drip(self, session) -> None:
        if self.calls == 0:
            await asyncio.sleep(self.DRIP)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        await self._drip(session)
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await self._drip(session)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await self._drip(session)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_an_smtp_server_dripping_its_replies_cannot_stretch_the_step_past_its_deadline(world):
    handler = DrippingFirstSession()
    controller = _Controller(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        world.tenant.outbound_allowlist = [f"127.0.0.1:{controller.port}"]
        world.tenant.save(update_fields=["outbound_allowlist"])
        save_credential(world.tenant, "drip-smtp", "smtp", {"host": "127.0.0.1", "port": controller.port, "from_email": "ops@acme.test"})
        mail = {"credential": "drip-smtp", "to": "ann@example.com", "subject": "Invoice", "text": "Your invoice."}
        circuit = build(world, "drip-mail", [node("mail", "notify.email", mail, timeout_seconds=STEP_TIMEOUT)], chain("mail"))
        started = time.monotonic()
        execution = run(circuit)
        # The helper thread's connection is gone at the deadline too: no message after it.
        time.sleep(3 * DrippingFirstSession.DRIP)
    finally:
        controller.stop()

    assert time.monotonic() - started < STEP_TIMEOUT + SLACK + 3 * DrippingFirstSession.DRIP
    assert execution.status == ExecutionStatus.FAILED
    (step,) = _attempts(execution, "mail")
    assert step.error["type"] == "timeout" and step.duration_ms < (STEP_TIMEOUT + SLACK) * 1000
    assert handler.messages == [] and handler.calls == 0  # it never got as far as DATA


# --------------------------------------------------------------------------- late results


class SlowAnswer(Action):
    """A test action that ignores its deadline: the first run answers (and sets a variable) after SLOW seconds."""

    name = "util.test_slow_answer"
    category = "util"
    label = "Slow answer (tests)"
    description = "Answers late the first time."
    side_effects = True
    schema = {"type": "object", "properties": {"fail": {"type": "boolean"}}}
    runs: list[str] = []
    late_done = threading.Event()

    def run(self, ctx: Context, config: dict) -> dict:
        if config.get("fail"):
            ctx.set_var("answer", "from a failed step")
            raise ActionError("failed after setting a variable")
        answer = "late" if not self.runs else "fresh"
        self.runs.append(answer)
        if answer == "late":
            time.sleep(SLOW)
        ctx.set_var("answer", answer)
        if answer == "late":
            type(self).late_done.set()
        return {"answer": answer}


@pytest.fixture
def slow_answer() -> Iterator[type[SlowAnswer]]:
    SlowAnswer.runs = []
    SlowAnswer.late_done = threading.Event()
    registry.register(SlowAnswer)
    try:
        yield SlowAnswer
    finally:
        registry.unregister(SlowAnswer.name)


def _late_answer_circuit(world, slug: str, **step):
    return build(
        world,
        slug,
        [
            node("slow", SlowAnswer.name, {}, retry=RETRY, **step),
            node("linger", "util.wait", {"seconds": SLOW}, timeout_seconds=SLOW + 5),  # the execution outlives the late answer
            node("out", "util.transform", {"template": {"var": "{{ vars.answer }}", "step": "{{ steps.slow.output.answer }}"}}),
        ],
        chain("slow", "linger", "out"),
    )


def test_a_late_answer_of_a_timed_out_step_never_reaches_its_output_or_vars(world, slow_answer):
    execution = run(_late_answer_circuit(world, "late-thread", timeout_seconds=STEP_TIMEOUT))

    assert slow_answer.late_done.is_set()  # the late run did finish, and set its variable, meanwhile
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    _assert_timed_out_then_retried(execution, "slow")
    assert slow_answer.runs == ["late", "fresh"]
    assert execution.output == {"var": "fresh", "step": "fresh"}
    assert execution.vars == {"answer": "fresh"}
    assert [s.output for s in _attempts(execution, "slow")] == [None, {"answer": "fresh"}]


def test_a_result_returned_after_the_deadline_without_an_explicit_timeout_is_discarded(world, slow_answer, monkeypatch):
    # Without timeout_seconds the action runs in the engine's own thread under the default deadline.
    monkeypatch.setattr(runner, "DEFAULT_STEP_TIMEOUT", STEP_TIMEOUT)
    execution = run(_late_answer_circuit(world, "late-inline"))

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    first, second = _attempts(execution, "slow")
    assert first.status == StepStatus.FAILED and first.error["type"] == "timeout" and first.output is None
    assert any("discarded" in entry["message"] for entry in first.logs)
    assert second.status == StepStatus.SUCCEEDED
    assert execution.output == {"var": "fresh", "step": "fresh"}
    assert execution.vars == {"answer": "fresh"}


def test_a_step_that_returns_in_time_keeps_the_variables_it_set(world, slow_answer):
    # The control for the tests above: staging does not lose what a step in time sets.
    SlowAnswer.runs = ["warm"]  # answers "fresh" at once
    execution = run(_late_answer_circuit(world, "in-time", timeout_seconds=STEP_TIMEOUT))

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert len(_attempts(execution, "slow")) == 1
    assert execution.vars == {"answer": "fresh"}


def test_variables_set_by_a_step_that_failed_are_not_kept(world, slow_answer):
    circuit = build(
        world,
        "failed-vars",
        [
            node("slow", SlowAnswer.name, {"fail": True}, on_error="continue"),
            node("out", "util.transform", {"template": "{{ vars.answer | default('unset') }}"}),
        ],
        chain("slow", "out"),
    )
    execution = run(circuit)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.steps.get(node_key="slow").status == StepStatus.FAILED
    assert execution.output == "unset" and execution.vars == {}
