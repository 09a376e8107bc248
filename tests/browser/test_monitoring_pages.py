"""The monitoring pages in a real browser: the dashboard draws its charts, and the executions
list updates a row live when an execution finishes."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.engine.helpers import build, chain, node, run

pytestmark = pytest.mark.browser


def _some_history(world):
    ok = build(world, "lead-scoring", [node("score", "util.transform", {"template": "{{ trigger.n * 10 }}"})], chain("score"))
    bad = build(world, "invoice-sync", [node("halt", "control.stop", {"status": "failed", "message": "ledger closed"})], chain("halt"))
    for n in range(12):
        run(ok, {"n": n})
    for _ in range(3):
        run(bad)
    return ok


def test_the_dashboard_draws_its_charts_and_tables(browser_session, world):
    _some_history(world)
    s = browser_session(world.viewer)
    s.goto("/t/acme/dashboard/")
    expect(s.page.locator("canvas").first).to_be_visible()
    expect(s.page.get_by_text("lead-scoring").first).to_be_visible()
    expect(s.page.get_by_text("invoice-sync").first).to_be_visible()
    s.page.wait_for_timeout(500)  # let the charts finish their animation before the picture
    s.screenshot("dashboard", copy_to_docs=True)
    assert s.console_errors == []


def test_the_executions_list_shows_a_new_execution_live(browser_session, world):
    circuit = build(
        world,
        "live-row",
        [node("nap", "util.wait", {"seconds": 1}), node("a", "util.transform", {"template": 1})],
        chain("nap", "a"),
        triggers=[{"type": "webhook", "config": {}}],
    )
    token = circuit.triggers.get().webhook_token
    s = browser_session(world.viewer)
    s.goto("/t/acme/executions/")
    # The server receives the webhook and its worker runs the execution; the open page hears it.
    request = urllib.request.Request(f"{s.server.url}/hooks/{token}", data=b"{}", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # the loopback test server
        execution_id = json.loads(response.read())["execution_id"]
    row = s.page.locator(f"#exec-{execution_id}")
    expect(row).to_be_visible(timeout=10_000)
    expect(row).to_contain_text(re.compile("succeeded", re.I), timeout=10_000)
    assert s.console_errors == []
