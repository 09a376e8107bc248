"""Waited webhook runs happen in the web process and are written in one transaction (#14).

Before: a `respond: wait` delivery INSERTed its execution, a worker claimed it (a second
transaction), wrote its three step rows with the finish UPDATE (a third and a fourth) and
read the row back, while the web process polled the row. Now the run is inline
(circuits/automation/engine/inline.py): its execution row and step rows are written in one
committing transaction, with no read of either table. PostgreSQL + Redis, the real view.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from django.db import connections
from django.db.backends.signals import connection_created
from django.test import Client
from django.utils import timezone

from circuits.automation.engine import inline
from circuits.automation.models.execution import Execution, ExecutionStatus
from tests.engine.helpers import build, chain, edge, node
from tests.fixtures import needs_postgres, needs_redis

pytestmark = [needs_postgres(), needs_redis(), pytest.mark.django_db(transaction=True)]

PAYLOAD = {"score": 70, "lead": {"email": "a@b.test"}}
WRITES = ("INSERT", "UPDATE", "DELETE")


def lead_circuit(world, slug: str = "lead-hook", **hook_config):
    """webhook → set → if → respond, as in bench/webhook.py."""
    nodes = [
        node("set", "util.set_variable", {"variables": {"email": "{{ trigger.body.lead.email }}", "score": "{{ trigger.body.score }}"}}),
        node("check", "control.if", {"condition": "{{ vars.score >= 50 }}"}),
        node("respond", "control.stop", {"output": {"body": "{{ trigger.body }}", "greeting": "Hello {{ vars.email }}"}}),
    ]
    edges = [*chain("set", "check")[:2], edge("check", "respond", "true")]
    return build(world, slug, nodes, edges, triggers=[{"type": "webhook", "config": {"respond": "wait", **hook_config}}])


@dataclass
class Statements:
    """Every SQL statement of the connection, whether it ran inside a transaction, and the commits."""

    ran: list[tuple[str, bool]] = field(default_factory=list)
    commits: int = 0  # transactions that committed…
    writing_commits: int = 0  # … and those of them that wrote something
    dirty: bool = False

    def __call__(self, execute, sql, params, many, context):
        atomic = context["connection"].in_atomic_block
        self.ran.append((sql, atomic))
        self.dirty = self.dirty or (atomic and sql.lstrip().upper().startswith(WRITES))
        return execute(sql, params, many, context)

    def committed(self) -> None:
        self.commits += 1
        self.writing_commits += self.dirty
        self.dirty = False

    @property
    def writes(self) -> list[tuple[str, bool]]:
        return [(sql, atomic) for sql, atomic in self.ran if sql.lstrip().upper().startswith(WRITES)]

    def touching(self, table: str) -> list[str]:
        return [sql for sql, _ in self.ran if f'"{table}"' in sql]


@contextmanager
def statements(monkeypatch) -> Iterator[Statements]:
    """On every connection (the run has a thread of its own, so a connection of its own)."""
    seen = Statements()
    wrapper_class = type(connections["default"])
    commit = wrapper_class.commit

    def counting_commit(self):
        seen.committed()
        return commit(self)

    def watch(sender, connection, **kwargs):
        connection.execute_wrappers.append(seen)

    monkeypatch.setattr(wrapper_class, "commit", counting_commit)
    connection_created.connect(watch)
    for conn in connections.all(initialized_only=True):
        conn.execute_wrappers.append(seen)
    try:
        yield seen
    finally:
        connection_created.disconnect(watch)
        for conn in connections.all(initialized_only=True):
            if seen in conn.execute_wrappers:
                conn.execute_wrappers.remove(seen)
        monkeypatch.setattr(wrapper_class, "commit", commit)


def deliver(token: str) -> dict:
    response = Client().post(f"/hooks/{token}", data=json.dumps(PAYLOAD), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_waited_webhook_run_writes_its_execution_and_steps_in_one_transaction(world, monkeypatch):
    circuit = lead_circuit(world)
    token = circuit.triggers.get().webhook_token
    deliver(token)  # the first call reads the trigger, circuit and version into the process's memory

    with statements(monkeypatch) as seen:
        body = deliver(token)

    assert body["output"] == {"body": PAYLOAD, "greeting": "Hello a@b.test"}
    # Two writes — the execution's INSERT and one INSERT of its three step rows — both inside
    # the one transaction that commits; nothing else is written, nothing is read back.
    assert [sql.split()[0:3] for sql, _ in seen.writes] == [["INSERT", "INTO", '"circuits_execution"'], ["INSERT", "INTO", '"circuits_steprun"']]
    assert all(atomic for _, atomic in seen.writes)
    assert seen.writing_commits == 1  # (the other commit ends the read-only look-up of circuit-completed triggers)
    assert [sql for sql in seen.touching("circuits_execution") if not sql.startswith("INSERT")] == []
    assert seen.touching("circuits_steprun") == [seen.writes[1][0]]
    assert len(seen.ran) <= 6, seen.ran  # the id drawn from the sequence, the writes, the completion-trigger look-ups

    execution = Execution.objects.get(pk=body["execution_id"])
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.output == body["output"]
    assert execution.started_at <= execution.finished_at and execution.created_at == execution.started_at
    assert list(execution.steps.order_by("pk").values_list("node_key", "status", "port")) == [
        ("set", "succeeded", "next"),
        ("check", "succeeded", "true"),
        ("respond", "succeeded", "next"),
    ]
    assert inline.journal.entry(execution.pk) is None  # removed once the row committed


def test_a_journal_entry_this_database_never_drew_is_dropped_not_recorded(world):
    # A recreated or restored database beside a Redis that still holds entries: recording one
    # would take an id the sequence hands out again later.
    circuit = lead_circuit(world, "stale-entry")
    version = circuit.versions.get(status="published")
    stale = inline.reserve_id() + 1000
    entry = {"tenant": world.tenant.pk, "circuit": circuit.pk, "version": version.pk, "input": {}, "started": timezone.now().isoformat()}
    inline.journal.record(stale, entry)
    assert inline.recover_lost(now=time.time() + 3600) == 0
    assert not Execution.objects.filter(pk=stale).exists()
    assert inline.journal.entry(stale) is None
