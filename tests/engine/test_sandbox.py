"""The template sandbox holds by construction (issue #8, findings 1, 4 and 5).

- Every payload of the corpus (tests/engine/sandbox_corpus.py) is refused or inert at save time
  (check_value: parse + compile only) and when a real execution renders it, each within a
  second, and nothing outside the template's data ever shows up.
- Saving and validating never run a template: no constant folding (`{{ [1]*10000000 }}` froze
  the web process for 109 s), not even for a viewer's validation request.
- A render stops at its step's deadline, at the execution's time limit, and when the execution
  is cancelled (seen through a real Celery worker).
- What templates legitimately use keeps working.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from circuits.automation.dispatch import create_execution, enqueue
from circuits.automation.engine.expressions import ExpressionError, check_value, render_value
from circuits.automation.engine.runner import run_now
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.services.executions import CancelExecution
from circuits.core.queues import all_queues
from tests.api.helpers import session_client
from tests.engine.helpers import build, chain, node
from tests.engine.sandbox_corpus import CANARY, CANARY_VARIABLE, PAYLOADS, TRIGGER
from tests.fixtures import needs_postgres, needs_redis

ROOT = Path(__file__).resolve().parents[2]
# What an object reaching out of the sandbox looks like when printed.
OBJECT_MARKERS = ("<class", "<module", "<function", "<built-in", "<bound method", "<method", "object at 0x", "mappingproxy")
# Loops that would run for ages: only a deadline, a time limit or a cancel stops them.
SPIN = "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}{% endfor %}{% endfor %}{% endfor %}"


@pytest.fixture(autouse=True)
def canary(monkeypatch):
    """A secret in the process environment, like SECRET_KEY and DATABASE_URL are in production."""
    monkeypatch.setenv(CANARY_VARIABLE, CANARY)


def secrets() -> list[str]:
    db = connection.settings_dict
    found = [settings.SECRET_KEY, CANARY, os.environ.get("DATABASE_URL", ""), db.get("PASSWORD") or ""]
    return [s for s in found if len(s) >= 6]


def assert_nothing_outside_data(text: str) -> None:
    for secret in secrets():
        assert secret not in text
    for marker in OBJECT_MARKERS:
        assert marker not in text, f"{marker!r} in {text[:300]!r}"


# --- the corpus --------------------------------------------------------------------------


def test_the_corpus_has_at_least_80_distinct_payloads():
    assert len(PAYLOADS) >= 80
    assert len({p.id for p in PAYLOADS}) == len(PAYLOADS)
    assert len({p.template for p in PAYLOADS}) == len(PAYLOADS)


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.id)
def test_a_payload_is_refused_or_inert_when_saved(payload):
    started = time.monotonic()
    errors = check_value({"template": payload.template}, "config")
    assert time.monotonic() - started < 1.0
    assert_nothing_outside_data(json.dumps(errors))
    if payload.at_save:
        assert errors and errors[0].startswith("config.template: ")


@pytest.mark.django_db
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.id)
def test_a_payload_is_refused_or_inert_when_an_execution_renders_it(world, payload):
    # A draft is run as it is (what "test run" does), so even what publishing would refuse runs.
    circuit = build(world, "payload", [node("x", "util.transform", {"template": payload.template})], chain("x"), publish=False)
    execution = create_execution(circuit, json.loads(json.dumps(TRIGGER)), version=circuit.versions.get())
    started = time.monotonic()
    execution = run_now(execution)
    assert time.monotonic() - started < 1.0
    step = execution.steps.get(node_key="x")
    if payload.refused:
        assert execution.status == ExecutionStatus.FAILED
        assert step.error["type"] == "expression", step.error
    else:
        assert execution.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED)
    stored = [execution.output, execution.error, step.input, step.output, step.error, step.logs]
    assert_nothing_outside_data(json.dumps(stored, default=str))


# --- saving and validating never run a template ----------------------------------------------

HEAVY_CONSTANTS = [
    "{{ [1]*10000000 }}",
    "{{ 9**(9**7) }}",
    "{{ sum([[1]*2000]*2000, []) }}",
    "{{ 'a'*40000000 }}",
    "{{ 'a'|center(999999999) }}",
    "{{ ('a' * 1000)|replace('a', 'a' * 100000) }}",
    "Total: {{ [0] * 10**8|length }} and {{ ('x' * 10**8)|upper }}",
]


@pytest.mark.django_db
@pytest.mark.parametrize("template", HEAVY_CONSTANTS)
def test_a_viewers_validation_request_never_evaluates_a_template(world, client_for, template):
    from tests.builder.helpers import SLUG, flow

    flow(world)
    client = client_for(world.viewer)

    def validate(text: str):
        node_ = {"key": "x", "action": "util.transform", "config": {"template": text}}
        return client.get(f"/t/{world.tenant.slug}/circuits/{SLUG}/edit/node-form", {"action": "util.transform", "key": "x", "node": json.dumps(node_)})

    assert validate("{{ trigger.name }}").status_code == 200  # the page's own first-request work
    started = time.monotonic()
    validate("{{ trigger.name }}")
    page = time.monotonic() - started  # what the page itself costs on this machine right now
    started = time.monotonic()
    response = validate(template)
    assert response.status_code == 200
    assert time.monotonic() - started < page + 1.0


@pytest.mark.django_db
def test_validating_a_saved_draft_full_of_heavy_constants_is_quick(world, client_for):
    keys = [f"n{i}" for i in range(len(HEAVY_CONSTANTS))]
    nodes = [node(k, "util.transform", {"template": t}) for k, t in zip(keys, HEAVY_CONSTANTS, strict=True)]
    circuit = build(world, "heavy", nodes, chain(*keys), publish=False)
    client = client_for(world.viewer)
    assert client.get(f"/t/{world.tenant.slug}/circuits/{circuit.slug}/edit").status_code == 200
    started = time.monotonic()
    response = session_client(world.viewer, world.tenant.slug).post(f"/api/v1/circuits/{circuit.slug}/draft/validate", format="json")
    assert response.status_code == 200
    assert time.monotonic() - started < 1.0


@pytest.mark.django_db
def test_a_heavy_trigger_condition_neither_blocks_saving_nor_the_record_write_that_fires_it(world, django_capture_on_commit_callbacks):
    from circuits.records.service import CreateRecord

    started = time.monotonic()
    circuit = build(
        world,
        "heavy-condition",
        [node("x", "util.transform", {"template": "{{ trigger }}"})],
        chain("x"),
        triggers=[{"type": "record_change", "config": {"object_type": "lead", "on": ["created"], "condition": "[1]*10000000"}}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.test", "last_name": "Lovelace"}).execute()
    assert time.monotonic() - started < 2.0
    assert not Execution.objects.filter(circuit=circuit).exists()  # the refused condition does not fire


# --- a render stops at its deadline, at the time limit, and when cancelled --------------------


def _in_thread(target, timeout: float):
    """Run `target` in a thread; None if it is still running after `timeout` seconds."""
    result: dict = {}

    def body():
        try:
            result["value"] = target()
        finally:
            connection.close()

    worker = threading.Thread(target=body, daemon=True)
    worker.start()
    worker.join(timeout)
    return None if worker.is_alive() else result.get("value")


@pytest.mark.django_db(transaction=True)
def test_a_steps_timeout_stops_its_render(world, settings):
    settings.EXPRESSION_MAX_SECONDS = 600.0
    settings.EXPRESSION_MAX_LOOP_ITERATIONS = 10**12
    circuit = build(world, "slow-render", [node("spin", "util.transform", {"template": SPIN}, timeout_seconds=0.5)], chain("spin"))
    execution = create_execution(circuit, {})
    started = time.monotonic()
    result = _in_thread(lambda: run_now(execution), timeout=15)
    assert result is not None, "the render went on past the step's timeout"
    assert time.monotonic() - started < 3.0
    assert result.status == ExecutionStatus.FAILED
    step = result.steps.get(node_key="spin")
    assert step.error["type"] == "expression"
    assert "step's deadline" in step.error["message"]


@pytest.mark.django_db(transaction=True)
def test_the_executions_time_limit_stops_a_render(world, settings):
    settings.EXPRESSION_MAX_SECONDS = 600.0
    settings.EXPRESSION_MAX_LOOP_ITERATIONS = 10**12
    world.tenant.limits = {"max_seconds": 1}
    world.tenant.save()
    circuit = build(world, "limited-render", [node("spin", "util.transform", {"template": SPIN})], chain("spin"))
    execution = create_execution(circuit, {})
    started = time.monotonic()
    result = _in_thread(lambda: run_now(execution), timeout=15)
    assert result is not None, "the render went on past the execution's time limit"
    assert time.monotonic() - started < 4.0
    assert result.status == ExecutionStatus.FAILED
    assert result.error["type"] == "limit" and result.error["limit"] == "max_seconds"


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


WORKER_QUIET = ("--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "WARNING")


def _start_worker(queue: str, **env: str) -> subprocess.Popen:
    """One Celery worker with a single slot: a render that never stops would keep it busy."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "circuitos_site", "worker", "-Q", ",".join(all_queues(queue)), "--pool=threads", "-c", "1", *WORKER_QUIET],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "circuitos_site.settings_test", "DATABASE_URL": _database_url(), "CELERY_QUEUE": queue, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@needs_postgres()
@needs_redis()
@pytest.mark.django_db(transaction=True)
def test_cancelling_an_execution_stops_its_render_in_a_real_worker(world, settings):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    spinning = build(world, "spinning", [node("spin", "util.transform", {"template": SPIN})], chain("spin"))
    after = build(world, "after", [node("t", "util.transform", {"template": "{{ trigger.n + 1 }}"})], chain("t"))
    # Only the cancel can stop this render: the worker allows it ten minutes and 10**12 iterations.
    worker = _start_worker(queue, EXPRESSION_MAX_SECONDS="600", EXPRESSION_MAX_LOOP_ITERATIONS=str(10**12))
    try:
        execution = create_execution(spinning, {})
        enqueue(execution)
        _wait_for(lambda: Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.RUNNING).exists(), 30, "the render to start")
        time.sleep(1.0)  # well into the render
        CancelExecution(world.tenant, world.operator, execution).execute()
        cancelled_at = time.monotonic()
        # The worker has one slot: the next execution runs only once the render has stopped.
        following = create_execution(after, {"n": 1})
        enqueue(following)
        done = _wait_for(lambda: Execution.objects.filter(pk=following.pk, status=ExecutionStatus.SUCCEEDED).first(), 15, "the worker to be free again")
        assert time.monotonic() - cancelled_at < 10
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
    assert done.output == 2
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED


# --- limits are settings -----------------------------------------------------------------------


def test_the_limits_come_from_settings(settings):
    settings.EXPRESSION_MAX_VALUE_SIZE = 1000
    assert render_value("{{ 'a' * 1000 }}", {}) == "a" * 1000
    with pytest.raises(ExpressionError, match="EXPRESSION_MAX_VALUE_SIZE"):
        render_value("{{ 'a' * 1001 }}", {})
    settings.EXPRESSION_MAX_LOOP_ITERATIONS = 10
    assert render_value("{% for i in range(10) %}{{ i }}{% endfor %}", {}) == "0123456789"
    with pytest.raises(ExpressionError, match="EXPRESSION_MAX_LOOP_ITERATIONS"):
        render_value("{% for i in [1, 2] %}{% for j in range(5) %}{% endfor %}{% endfor %}", {})
    settings.EXPRESSION_MAX_OUTPUT_CHARS = 5
    with pytest.raises(ExpressionError, match="EXPRESSION_MAX_OUTPUT_CHARS"):
        render_value("{{ 'abc' }}{{ 'def' }}", {})
    settings.EXPRESSION_MAX_CALLS = 3
    with pytest.raises(ExpressionError, match="EXPRESSION_MAX_CALLS"):
        render_value("{{ 'a'|upper|lower|upper|lower }}", {})
    settings.EXPRESSION_MAX_SOURCE_CHARS = 100
    assert check_value("{{ 1 }}" + " " * 100) == ["config: the template is longer than 100 characters (EXPRESSION_MAX_SOURCE_CHARS)"]


def test_a_render_without_a_deadline_still_stops_at_the_expression_time_limit(settings):
    settings.EXPRESSION_MAX_SECONDS = 0.3
    settings.EXPRESSION_MAX_LOOP_ITERATIONS = 10**12
    started = time.monotonic()
    with pytest.raises(ExpressionError, match="EXPRESSION_MAX_SECONDS"):
        render_value(SPIN, {})
    assert time.monotonic() - started < 1.5


# --- what templates legitimately use keeps working -------------------------------------------------

DATA = {"trigger": {**TRIGGER, "email": "ann@freemail.test"}, "steps": {"score": {"output": {"score": 91}}}, "vars": {"queue": "vip"}}

LEGITIMATE = [
    ("{{ steps.score.output.score >= 80 }}", True),
    ("{{ int('41') + 1 }}", 42),
    ("{{ float('1.5') * 2 }}", 3.0),
    ("{{ str(7) ~ '!' }}", "7!"),
    ("{{ bool(0) }}", False),
    ("{{ len(trigger.items) }}", 3),
    ("{{ min(trigger.items) }}-{{ max(3, 9) }}-{{ abs(-2) }}-{{ round(2.567, 2) }}", "1-9-2-2.57"),
    ("{{ sum(trigger.items) }}", 6),
    ("{{ sorted([3, 1, 2]) }}", [1, 2, 3]),
    ("{{ sorted(trigger.words, reverse=true) }}", ["beta", "alpha"]),
    ("{{ now()[:2] }}", "20"),
    ("{{ range(3)|list }}", [0, 1, 2]),
    ("{{ range(3) }}", [0, 1, 2]),
    ("{{ dict(a=1, b=trigger.n) }}", {"a": 1, "b": 7}),
    ("{% set ns = namespace(total=0) %}{% for i in trigger.items %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}", "6"),
    ("{% for w in trigger.words %}{{ loop.index }}{{ loop.cycle('a', 'b') }}{% if not loop.last %},{% endif %}{% endfor %}", "1a,2b"),
    ("{{ '%05.1f' % 3.14159 }}", "003.1"),
    ("{{ '%s and %s' % (trigger.name, trigger.n) }}", "Ada and 7"),
    ("{{ '{:>6}|{}'.format(trigger.name, 1) }}", "   Ada|1"),
    ("{{ '{name} {0}'.format(1, name=trigger.name) }}", "Ada 1"),
    ("{{ '%(who)s!'|format(who=trigger.name) }}", "Ada!"),
    ("{{ trigger.items|join(', ') }}", "1, 2, 3"),
    ("{{ trigger.name|center(7) }}", "  Ada  "),
    ("{{ trigger.nested|tojson }}", '{"deep": {"x": 1}}'),
    ("{{ trigger.items|map('string')|list }}", ["1", "2", "3"]),
    ("{{ trigger.items|select('odd') }}", [1, 3]),
    ("{% for g in [{'k': 1}, {'k': 1}, {'k': 2}]|groupby('k') %}{{ g.grouper }}:{{ g.list|length }} {% endfor %}", "1:2 2:1 "),
    ("{{ trigger.email.endswith('@freemail.test') }}", True),
    ("{{ trigger.name.upper() ~ trigger.name.lower() }}", "ADAada"),
    ("{{ 'a,b'.split(',') }}", ["a", "b"]),
    ("{{ trigger.get('missing', 'fallback') }}", "fallback"),
    ("{{ trigger.items }}", [1, 2, 3]),  # a payload key wins over the dict method
    ("{{ trigger.nested.keys()|list }}", ["deep"]),
    ("{{ [1, 2] + [3] }} {{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ -trigger.n }}", "[1, 2, 3] ababab 1024 3 1 -7"),
    ("{% for x in [[1, [2]], [3]] recursive %}{% if x is iterable %}{{ loop(x) }}{% else %}{{ x }}{% endif %}{% endfor %}", "123"),
    ("{% macro greet(who) %}Hi {{ who }}{% endmacro %}{{ greet(trigger.name) }}", "Hi Ada"),
    ("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}{{ trigger.n }}{% endcall %}", "[7]"),
    ("{{ trigger.missing | default('none') }}", "none"),
    ("{{ trigger.missing is defined }}", False),
    ("{{ trigger.text|wordwrap(5) }}", "hello\nworld"),
    ("{{ trigger.text|replace('world', 'there')|title }}", "Hello There"),
    ("{{ trigger.text|truncate(9, leeway=0) }}", "hello..."),
    ("{{ trigger.text|indent(2, first=true) }}", "  hello world"),
    ("{{ (trigger.n / 2)|round(1) }} {{ 3.7|int }} {{ '2.5'|float }}", "3.5 3 2.5"),
    ("{{ trigger.items|batch(2)|list }}", [[1, 2], [3]]),
    ("{{ trigger.items|sum(start=10) }}", 16),
    ("{{ trigger.words|map('upper')|join('-') }}", "ALPHA-BETA"),
    ("{{ trigger.text|urlencode }}", "hello%20world"),
    ("{{ trigger.items|reverse|list }}", [3, 2, 1]),
    ("{{ trigger.items|sort(reverse=true)|first }}", 3),
    ("{% filter upper %}{{ vars.queue }}{% endfilter %}", "VIP"),
    ("{% set greeting %}Hi {{ trigger.name }}{% endset %}{{ greeting|length }}", "6"),
    ("{{ trigger.record.company or 'no company' if trigger.record is defined else 'no record' }}", "no record"),
    ("{{ trigger.name ~ '/' ~ trigger.n }}", "Ada/7"),
    ("{{ trigger.items|length > 2 and trigger.name in ['Ada', 'Bob'] }}", True),
    ("{% for k, v in trigger.nested.deep|dictsort %}{{ k }}={{ v }}{% endfor %}", "x=1"),
    ("{% set a, b = 1, 2 %}{{ a + b }}", "3"),
    ("{{ ('<b>{}</b>'|safe).format('<i>') }}", "<b>&lt;i&gt;</b>"),
    ("{{ '{:,.2f} {:>08.3f} {:x} {:%}'.format(1234.5, 3.14159, 255, 0.5) }}", "1,234.50 0003.142 ff 50.000000%"),
]


@pytest.mark.parametrize(("template", "expected"), LEGITIMATE, ids=[t for t, _ in LEGITIMATE])
def test_what_templates_legitimately_use_keeps_working(template, expected):
    assert check_value(template) == []
    assert render_value(template, json.loads(json.dumps(DATA))) == expected
