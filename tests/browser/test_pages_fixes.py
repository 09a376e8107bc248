"""Pages outside the builder, in a real browser (issue #13): the Enabled switch on the circuits
list, and counts that follow what really happened."""

from __future__ import annotations

import json
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
