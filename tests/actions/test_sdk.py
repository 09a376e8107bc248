"""The action SDK: a bottom layer that imports nothing of the platform, and the facade the engine implements.

The probe actions (tests/actions/probe_actions.py) are written against `actions.sdk` only,
register through its decorator and reach credentials, bodies, sub-circuits and sleeps
through `ctx` — run here in real executions of the real engine.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from actions.sdk import CATEGORIES, ActionError, registry
from circuits.automation.dispatch import create_execution
from circuits.automation.engine.context import DirectContext
from circuits.automation.engine.runner import cancel_key, run_now
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.tenancy.credentials import save_credential
from tests.engine.helpers import build, chain, edge, node, run

ROOT = Path(__file__).resolve().parents[2]
PROBES = "tests.actions.probe_actions"


@pytest.fixture
def probes() -> Iterator[None]:
    """The probe actions in the registry for one test (registered by their module's decorators)."""
    module = importlib.import_module(PROBES)
    for action in module.PROBES:
        registry.register(action)  # a no-op the first time: importing the module registered them
    try:
        yield
    finally:
        for action in module.PROBES:
            registry.unregister(action.name)


def test_lint_imports_keeps_every_layer_contract():
    done = subprocess.run([str(ROOT / ".venv/bin/lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    for contract in ("The action SDK imports nothing from Circuit OS, nor Django", "The engine uses actions only through the SDK"):
        assert contract in done.stdout


def test_importing_the_sdk_loads_no_platform_module_and_no_django():
    # A fresh interpreter without Django settings: what importing the SDK pulls in at run time.
    script = (
        "import json, sys; import actions.sdk; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('circuits', 'intelligence', 'circuitos_site', 'django') "
        "or (m.startswith('actions.') and not m.startswith('actions.sdk')))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_the_probe_actions_import_only_the_sdk_and_the_standard_library():
    tree = ast.parse((ROOT / "tests/actions/probe_actions.py").read_text())
    imported = {alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == {"__future__", "typing", "actions.sdk"}


def test_registration_needs_no_family_list_the_registry_finds_what_the_decorator_registered(probes):
    found = registry.get("util.probe_credential")
    assert found is not None and found.__module__ == PROBES
    assert "util.probe_credential" in {a.name for a in registry.all_actions()}
    assert {a.category for a in registry.all_actions()} <= set(CATEGORIES)


@pytest.mark.django_db
def test_an_sdk_action_reads_the_tenants_credential_through_the_context(world, probes):
    save_credential(world.tenant, "crm", "http_basic", {"username": "robot", "password": "pw-never-returned"})
    circuit = build(world, "probe-credential", [node("read", "util.probe_credential", {"credential": "crm"})], chain("read"))
    execution = run(circuit)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.output == {"username": "robot", "has_password": True}
    step = execution.steps.get(node_key="read")
    assert step.logs[-1]["message"] == "read credential 'crm'"
    assert "pw-never-returned" not in json.dumps(step.output)


@pytest.mark.django_db
def test_an_sdk_action_cannot_read_another_tenants_credential(world, probes):
    save_credential(world.other_tenant, "crm", "http_basic", {"username": "theirs", "password": "x"})
    circuit = build(world, "probe-foreign", [node("read", "util.probe_credential", {"credential": "crm"})], chain("read"))
    execution = run(circuit)
    assert execution.status == ExecutionStatus.FAILED
    assert "No credential named 'crm' in this tenant" in execution.error["message"]


@pytest.mark.django_db
def test_an_sdk_container_runs_its_body_in_turn_and_at_the_same_time_through_the_context(world, probes):
    nodes = [node("twice", "control.probe_twice"), node("echo", "util.transform", {"template": "{{ probe }}"}), node("after", "util.log", {"message": "done"})]
    edges = [*chain("twice"), edge("twice", "echo", "each"), edge("twice", "after", "done")]
    execution = run(build(world, "probe-body", nodes, edges))
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert execution.steps.get(node_key="twice").output == {"in_turn": ["one", "two"], "together": ["three", "four"]}
    scopes = set(execution.steps.filter(node_key="echo").values_list("scope", flat=True))
    assert scopes == {"/twice.one", "/twice.two", "/twice.three", "/twice.four"}


@pytest.mark.django_db
def test_an_sdk_action_starts_a_sub_circuit_through_the_context_and_gets_its_output(world, probes):
    build(world, "answerer", [node("answer", "util.transform", {"template": {"hello": "{{ trigger.asked_by }}"}})], chain("answer"))
    parent = build(world, "asker", [node("ask", "control.probe_call", {"circuit": "answerer"})], chain("ask"))
    execution = run(parent)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    child = Execution.objects.get(circuit__slug="answerer")
    assert execution.output == {"execution_id": child.pk, "status": "succeeded", "output": {"hello": "ask"}}
    assert child.parent_id == execution.pk and child.trigger_type == "subcircuit"


@pytest.mark.django_db
def test_a_sub_circuit_the_context_starts_stays_in_the_tenant(world, probes):
    build(SimpleNamespace(tenant=world.other_tenant, owner=world.outsider), "elsewhere", [node("x", "util.log", {"message": "x"})], chain("x"))
    execution = run(build(world, "asker", [node("ask", "control.probe_call", {"circuit": "elsewhere"})], chain("ask")))
    assert execution.status == ExecutionStatus.FAILED
    assert "no circuit 'elsewhere' in this tenant" in execution.error["message"]
    assert not Execution.objects.filter(circuit__slug="elsewhere").exists()


@pytest.mark.django_db
def test_a_sleep_through_the_context_ends_when_the_execution_is_cancelled(world, probes):
    circuit = build(world, "probe-sleep", [node("nap", "util.probe_sleep", {"seconds": 60})], chain("nap"))
    execution = create_execution(circuit, {})
    timer = threading.Timer(0.5, lambda: cache.set(cancel_key(execution), True, timeout=60))
    started = time.monotonic()
    timer.start()
    try:
        finished = run_now(execution)
    finally:
        timer.cancel()
    assert finished.status == ExecutionStatus.CANCELLED
    assert time.monotonic() - started < 10
    assert finished.steps.get(node_key="nap").status == "failed"


@pytest.mark.django_db
def test_the_context_carries_the_tenants_limits_to_the_action(world, probes, settings):
    settings.ENGINE_INLINE_WAIT_SECONDS = 2.5
    execution = run(build(world, "probe-limits", [node("nap", "util.probe_sleep", {"seconds": 0})], chain("nap")))
    assert execution.output == {"slept": 0, "inline_wait_seconds": 2.5}


@pytest.mark.django_db
def test_outside_an_execution_a_context_reads_credentials_but_runs_no_bodies(world, probes):
    save_credential(world.tenant, "crm", "http_basic", {"username": "robot", "password": "pw"})
    ctx = DirectContext(tenant=world.tenant, execution=None, node_key="n1", data={"trigger": {}, "steps": {}, "vars": {}})
    assert registry.get("util.probe_credential")().run(ctx, {"credential": "crm"}) == {"username": "robot", "has_password": True}
    with pytest.raises(ActionError, match="only inside a running execution"):
        registry.get("control.probe_twice")().run(ctx, {})
