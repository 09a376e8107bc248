"""Callers waiting for an outcome are capped per process: past the cap a caller is answered at once.

Before: every `?wait=true` request and every `respond: wait` webhook (anonymous: the URL is the
credential) held a web thread and a database connection for its whole wait, with no bound, so
a burst of webhook calls could use up PostgreSQL's connections for the whole platform.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from circuits.automation.dispatch import create_execution
from circuits.automation.engine.waiting import wait_for_outcome
from circuits.automation.models.execution import ExecutionStatus
from tests.engine.helpers import build, chain, node


@pytest.mark.django_db(transaction=True)
def test_a_caller_past_the_cap_of_waiting_callers_is_answered_at_once_and_the_first_keeps_waiting(world, settings):
    settings.API_WAIT_MAX_CALLERS = 1
    circuit = build(world, "never-runs", [node("a", "util.transform", {"template": "x"})], chain("a"))
    execution = create_execution(circuit, {})  # no worker: it stays queued
    answers: list[float] = []

    def first() -> None:
        started = time.monotonic()
        try:
            wait_for_outcome(execution.pk, 2.0)
            answers.append(time.monotonic() - started)
        finally:
            connection.close()

    waiter = threading.Thread(target=first)
    waiter.start()
    time.sleep(0.3)  # the first caller is waiting
    started = time.monotonic()
    second = wait_for_outcome(execution.pk, 2.0)
    assert time.monotonic() - started < 0.5 and second.status == ExecutionStatus.QUEUED
    waiter.join(5)
    assert answers and answers[0] >= 1.9  # the first caller waited its whole time
    started = time.monotonic()
    wait_for_outcome(execution.pk, 0.5)  # the place is free again
    assert time.monotonic() - started >= 0.45
