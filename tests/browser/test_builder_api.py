"""The builder talks JSON to /api/v1 only: every request it makes while a circuit is drawn, saved,
validated, published, test-run, run one step alone and rolled back is recorded in the browser.

What is not /api/v1 must be one of the htmx partials the server renders (HTML: node form,
trigger form, versions list, diff) — never JSON of the builder's own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from circuits.automation.models.execution import Execution
from tests.browser.test_builder_journey import connect, drop_action, node_el, open_step, wait_saved
from tests.engine.helpers import build, chain, node

pytestmark = pytest.mark.browser
PARTIALS = re.compile(r"^/t/acme/circuits/[\w-]+/edit/(node-form|trigger-form|versions|diff)$")


def test_drawing_saving_validating_publishing_testing_and_rolling_back_talk_only_to_the_api(world, browser_session):
    circuit = build(world, "talker", [node("first", "util.log", {"message": "v1"}, position={"x": 300, "y": 100})], chain("first"))
    s = browser_session(world.editor)
    page = s.page
    requests: list[tuple[str, str, str]] = []  # (method, path, resource type) after the page loaded

    def record(request) -> None:
        if request.resource_type in ("fetch", "xhr"):
            requests.append((request.method, urlsplit(request.url).path, request.resource_type))

    page.on("dialog", lambda dialog: dialog.accept())
    # The contract other modules build on: builder:ready once (detail = circuitBuilder), builder:run per update.
    page.add_init_script(
        """document.addEventListener('builder:ready', (e) => { window.__ready = (window.__ready || []).concat([e.detail === window.circuitBuilder]); });
           document.addEventListener('builder:run', (e) => { (window.__runs = window.__runs || []).push([e.detail.id, e.detail.status]); });"""
    )
    s.goto("/t/acme/circuits/talker/edit")
    expect(node_el(page, "first")).to_be_visible()
    page.wait_for_function("window.circuitBuilder && window.circuitBuilder.editor")
    page.on("request", record)

    # Draw: a new step connected after the first, configured through its form; autosaved.
    drop_action(page, "util.transform", 600, 200)
    expect(node_el(page, "transform_1")).to_be_visible()
    connect(page, "first", 1, "transform_1")
    open_step(page, "transform_1")
    page.fill("#f-c-template", '{"seen": "{{ steps.first.output }}"}')
    wait_saved(page)
    # Validate, publish.
    page.click("#btn-validate")
    expect(page.locator("#flash")).to_contain_text("The circuit is valid")
    page.click("#btn-publish")
    page.fill("#publish-note", "second")
    page.click("#publish-confirm")
    expect(page.locator("#flash")).to_contain_text("Published version 2")
    # A test run, watched live until it ends.
    page.click("#btn-test")
    page.fill("#test-payload", json.dumps({"name": "Ada"}))
    page.click("#test-start")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=20_000)
    # The step alone, from the node view: it reads `first`, whose output the last run gave it.
    tested = page.evaluate("window.circuitBuilder.run.id")
    node_el(page, "transform_1").click()
    page.click("#tab-step")
    page.click("#btn-run-node")
    page.wait_for_function(f"window.circuitBuilder.run.id !== {tested} && window.circuitBuilder.run.status === 'succeeded'", timeout=20_000)
    alone = Execution.objects.get(pk=page.evaluate("window.circuitBuilder.run.id"))
    assert (alone.circuit_id, alone.only_node, alone.is_test) == (circuit.pk, "transform_1", True)
    steps = {s.node_key: s for s in alone.steps.all()}
    assert set(steps) == {"first", "transform_1"} and any(e.get("given") for e in steps["first"].logs)  # `first` did not run
    assert page.evaluate("window.__ready") == [True]
    updates = page.evaluate("window.__runs")
    assert [tested, "succeeded"] in updates and [alone.pk, "succeeded"] in updates, updates
    # Roll back to version 1.
    page.click("#btn-versions")
    page.click("[data-rollback='1']")
    expect(page.locator("#flash")).to_contain_text("Version 1 is published again")
    expect(node_el(page, "transform_1")).to_have_count(0)
    # The exported file comes from the API too.
    with page.expect_download() as download:
        page.click("#btn-export")
    assert json.loads(Path(download.value.path()).read_text())["slug"] == "talker"

    others = [(m, p) for m, p, _ in requests if not p.startswith("/api/v1/") and not PARTIALS.match(p)]
    assert others == [], others
    partial_posts = [(m, p) for m, p, _ in requests if PARTIALS.match(p) and m != "GET" and not p.endswith("/node-form")]
    assert partial_posts == [], partial_posts  # only the node form posts back (to render itself)
    api = {(m, re.sub(r"/\d+", "/<id>", p)) for m, p, _ in requests if p.startswith("/api/v1/")}
    for call in [
        ("PUT", "/api/v1/circuits/talker/draft"),
        ("POST", "/api/v1/circuits/talker/draft/validate"),
        ("POST", "/api/v1/circuits/talker/publish"),
        ("POST", "/api/v1/circuits/talker/test-runs"),
        ("GET", "/api/v1/executions/<id>"),
        ("POST", "/api/v1/circuits/talker/draft/nodes/transform_1/run"),
        ("POST", "/api/v1/circuits/talker/rollback"),
        ("GET", "/api/v1/circuits/talker/export"),
    ]:
        assert call in api, (call, sorted(api))
    assert s.console_errors == [], s.console_errors
