"""Pages outside the builder, in a real browser (issue #13): the Enabled switch on the circuits
list, and counts that follow what really happened."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import ExecutionStatus
from tests.engine.helpers import build, chain, node, run

pytestmark = pytest.mark.browser


def test_the_enabled_switch_turns_a_circuit_off_and_on_and_a_viewer_can_flip_it_neither_in_the_page_nor_by_hand(world, browser_session):
    circuit = build(world, "switchable", [node("hello", "util.log", {"message": "hi"})], chain("hello"))
    s = browser_session(world.operator)
    page = s.page
    s.goto("/t/acme/circuits/")
    row = page.locator(f"#circuit-{circuit.pk}")
    row.locator("input[name=enabled]").uncheck()
    expect(page.locator(f"#circuit-{circuit.pk} .switch")).to_contain_text("off")
    assert Circuit.objects.get(pk=circuit.pk).enabled is False
    page.locator(f"#circuit-{circuit.pk} input[name=enabled]").check()
    expect(page.locator(f"#circuit-{circuit.pk} .switch")).to_contain_text("on")
    assert Circuit.objects.get(pk=circuit.pk).enabled is True
    assert s.console_errors == [], s.console_errors

    viewer = browser_session(world.viewer)
    viewer.goto("/t/acme/circuits/")
    expect(viewer.page.locator(f"#circuit-{circuit.pk} input[name=enabled]")).to_be_disabled()
    status = viewer.page.evaluate(
        """async (slug) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const r = await fetch(`/t/acme/circuits/${slug}/toggle`, {method: 'POST', headers: {'X-CSRFToken': token, 'HX-Request': 'true'},
                                                                        body: new URLSearchParams({})});
            return r.status;
        }""",
        circuit.slug,
    )
    assert status == 403
    assert Circuit.objects.get(pk=circuit.pk).enabled is True


def test_needs_attention_drops_a_failure_whose_retry_succeeded_recent_failures_leave_out_test_runs_and_the_count_follows_live_rows(world, browser_session):
    times_ten = build(world, "times-ten", [node("calc", "util.transform", {"template": "{{ 10 // trigger.n }}"})], chain("calc"))
    fixed = run(times_ten, {"n": 0})
    assert fixed.status == ExecutionStatus.FAILED
    assert run(times_ten, {"n": 4}, rerun_of=fixed).status == ExecutionStatus.SUCCEEDED
    still_broken = run(times_ten, {"n": 0})
    tested = run(times_ten, {"n": 0}, is_test=True)
    assert still_broken.status == tested.status == ExecutionStatus.FAILED

    s = browser_session(world.viewer)
    page = s.page
    s.goto("/t/acme/")
    attention = page.locator("section[aria-labelledby=failures-title]")
    expect(attention.locator(f"a[href$='/executions/{still_broken.pk}/']")).to_have_count(1)
    expect(attention.locator(f"a[href$='/executions/{fixed.pk}/']")).to_have_count(0)
    expect(attention.locator(f"a[href$='/executions/{tested.pk}/']")).to_have_count(0)

    s.goto("/t/acme/dashboard/")
    failures = page.locator("section[aria-labelledby=failures-title]")
    expect(failures.locator(f"a[href$='/executions/{still_broken.pk}/']")).to_have_count(1)
    expect(failures.locator(f"a[href$='/executions/{tested.pk}/']")).to_have_count(0)

    # The executions list: a new execution arrives live, and the count above the table follows it.
    webhook = build(world, "counted", [node("a", "util.transform", {"template": 1})], chain("a"), triggers=[{"type": "webhook", "config": {}}])
    s.goto("/t/acme/executions/")
    count = page.locator("[data-result-count]")
    before = int(count.get_attribute("data-result-count"))
    expect(count).to_have_text(f"{before} executions.")
    request = urllib.request.Request(f"{s.server.url}/hooks/{webhook.triggers.get().webhook_token}", data=b"{}", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # the loopback test server
        execution_id = json.loads(response.read())["execution_id"]
    expect(page.locator(f"#exec-{execution_id}")).to_be_visible(timeout=10_000)
    expect(count).to_have_text(f"{before + 1} executions.")
    assert s.console_errors == [], s.console_errors


def test_the_execution_page_draws_the_graph_with_each_steps_status_and_the_path_taken(world, browser_session):
    steps = [
        node("check", "control.if", {"condition": "{{ trigger.n > 1 }}"}, position={"x": 300, "y": 100}),
        node("big", "util.transform", {"template": "big"}, position={"x": 600, "y": 40}),
        node("small", "util.transform", {"template": "small"}, position={"x": 600, "y": 200}),
    ]
    edges = [
        {"source": "trigger", "port": "next", "target": "check"},
        {"source": "check", "port": "true", "target": "big"},
        {"source": "check", "port": "false", "target": "small"},
    ]
    circuit = build(world, "branchy", steps, edges)
    execution = run(circuit, {"n": 5})
    assert execution.status == ExecutionStatus.SUCCEEDED
    s = browser_session(world.viewer)
    page = s.page
    s.goto(f"/t/acme/executions/{execution.pk}/")
    graph = page.locator("#execution-graph")
    for key, state in (("check", "run-succeeded"), ("big", "run-succeeded"), ("small", "run-skipped")):
        expect(graph.locator(f".drawflow-node[data-key='{key}']")).to_have_class(re.compile(state))
    expect(graph.locator(".connection.is-taken")).to_have_count(2)  # trigger → check → big
    big = graph.locator(".drawflow-node[data-key='big']").get_attribute("id").removeprefix("node-")
    expect(graph.locator(f".connection.is-taken.node_in_node-{big}")).to_have_count(1)
    graph.scroll_into_view_if_needed()
    s.screenshot("execution-graph")
    graph.locator(".drawflow-node[data-key='big']").click()
    expect(page.locator("#node-big").locator("xpath=ancestor::tr").locator("details pre").first).to_be_visible()
    assert s.console_errors == [], s.console_errors
