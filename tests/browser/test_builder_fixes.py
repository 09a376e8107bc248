"""Builder defects of issue #13, each in a real browser: roll back, the webhook payload,
the canvas' zoom, selection, undo of a delete, drops, the "+" handle on output ports."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from circuits.automation.models.execution import Execution
from circuits.automation.models.version import VersionStatus
from circuits.automation.services.versions import PublishDraft, SaveDraft, current_version, version_document
from tests.browser.test_builder_journey import node_el, wait_saved
from tests.engine.helpers import build, chain, node

pytestmark = pytest.mark.browser


def test_rolling_back_shows_the_republished_graph_and_the_next_edit_starts_from_it(world, browser_session):
    circuit = build(world, "rollback", [node("first", "util.log", {"message": "v1"}, position={"x": 300, "y": 100})], chain("first"))
    second = {"nodes": [{"key": "second", "action": "util.log", "config": {"message": "v2"}, "position": {"x": 300, "y": 100}}],
              "edges": [{"source": "trigger", "port": "next", "target": "second"}]}  # fmt: skip
    SaveDraft(world.tenant, world.admin, circuit, second, base_revision=0).execute()
    PublishDraft(world.tenant, world.admin, circuit).execute()
    s = browser_session(world.editor)
    page = s.page
    page.on("dialog", lambda dialog: dialog.accept())
    s.goto("/t/acme/circuits/rollback/edit")
    expect(node_el(page, "second")).to_be_visible()
    expect(page.locator("#version-badge")).to_have_text("v2 · published")
    page.click("#btn-versions")
    page.click("[data-rollback='1']")
    expect(page.locator("#flash")).to_contain_text("Version 1 is published again")
    expect(node_el(page, "first")).to_be_visible()
    expect(node_el(page, "second")).to_have_count(0)
    expect(page.locator("#version-badge")).to_have_text("v1 · published")
    # The next edit makes a draft of version 1's graph, not of the stale one.
    node_el(page, "first").focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#version-badge")).to_have_text("v3 · draft")
    wait_saved(page)
    draft = current_version(circuit)
    assert (draft.number, draft.status) == (3, VersionStatus.DRAFT)
    assert [n["key"] for n in version_document(draft)["nodes"]] == ["first"]
    assert s.console_errors == [], s.console_errors


def test_a_webhook_circuit_shows_its_payload_shape_and_tests_with_a_webhook_shaped_or_the_last_real_payload(world, browser_session):
    steps = [node("greet", "util.transform", {"template": "Hello {{ trigger.body.name }}"}, position={"x": 300, "y": 100})]
    circuit = build(world, "hooked", steps, chain("greet"), triggers=[{"type": "webhook", "config": {}}])
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/hooked/edit")
    node_el(page, "trigger").click()
    expect(page.locator("#payload-shape")).to_contain_text("trigger.body")
    expect(page.locator("#payload-shape")).to_contain_text("trigger.query")

    page.click("#btn-test")
    expect(page.locator("#test-shape")).to_contain_text("trigger.headers")
    assert set(json.loads(page.input_value("#test-payload"))) == {"body", "query", "headers"}
    page.click("#test-last-real")
    expect(page.locator("#test-errors")).to_contain_text("no real execution yet")

    token = circuit.triggers.get().webhook_token
    request = urllib.request.Request(f"{s.server.url}/hooks/{token}", data=b'{"name": "Ada"}', headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):  # the loopback test server
        pass
    page.click("#test-last-real")
    expect(page.locator("#test-payload")).to_have_value(re.compile(r'"name": "Ada"'))
    page.click("#test-start")
    expect(node_el(page, "greet")).to_have_class(re.compile("run-succeeded"), timeout=15_000)
    expect(node_el(page, "greet").locator(".node-io")).to_contain_text("Hello Ada")
    test_run = Execution.objects.get(circuit=circuit, is_test=True)
    assert test_run.input["body"] == {"name": "Ada"} and test_run.output == "Hello Ada"
    assert s.console_errors == [], s.console_errors
