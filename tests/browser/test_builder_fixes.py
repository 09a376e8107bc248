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


def _wide_circuit(world, slug: str):
    """Six steps in a row, 290 px apart: wider than the canvas at a readable zoom."""
    keys = [f"s{i}" for i in range(1, 7)]
    steps = [node(k, "util.log", {"message": k}, position={"x": 300 + i * 290, "y": 100}) for i, k in enumerate(keys)]
    return build(world, slug, steps, chain(*keys), publish=False)


def test_the_canvas_opens_at_a_readable_zoom_with_one_selected_step_and_one_undo_per_delete(world, browser_session):
    circuit = _wide_circuit(world, "wide")
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/wide/edit")
    expect(node_el(page, "s1")).to_be_visible()
    page.wait_for_timeout(300)  # the fit runs on the next frame
    assert page.evaluate("window.circuitBuilder.editor.zoom") >= 0.85
    label_px = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector(`.drawflow-node[data-key='s1'] .node-label`)).fontSize) * window.circuitBuilder.editor.zoom"
    )
    assert label_px >= 11
    expect(node_el(page, "trigger")).to_be_in_viewport()

    # Click one step, then move to another with the keyboard: only that one looks selected.
    node_el(page, "s1").click()
    node_el(page, "s2").focus()
    looks_selected = page.evaluate(
        "[...document.querySelectorAll('.drawflow-node')].filter((el) => getComputedStyle(el).boxShadow.includes('201, 212, 255')).map((el) => el.dataset.key)"
    )
    assert looks_selected == ["s2"]

    # Delete a step with connections on both sides; one undo brings it back with them.
    page.keyboard.press("Delete")
    expect(node_el(page, "s2")).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(node_el(page, "s2")).to_be_visible()
    edges = page.evaluate("window.circuitBuilder.currentDoc().edges.map((e) => e.source + '>' + e.target)")
    assert "s1>s2" in edges and "s2>s3" in edges
    wait_saved(page)
    assert {(e["source"], e["target"]) for e in version_document(current_version(circuit))["edges"]} >= {("s1", "s2"), ("s2", "s3")}
    assert s.console_errors == [], s.console_errors


def test_dropped_steps_do_not_overlap_and_the_plus_on_a_port_adds_a_connected_next_step(world, browser_session):
    from tests.browser.test_builder_journey import drop_action

    circuit = build(world, "grow", [node("hello", "util.log", {"message": "hi"}, position={"x": 300, "y": 100})], chain("hello"), publish=False)
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/grow/edit")
    expect(node_el(page, "hello")).to_be_visible()
    drop_action(page, "util.wait", 300, 420)
    drop_action(page, "util.wait", 300, 420)
    first, second = node_el(page, "wait_1").bounding_box(), node_el(page, "wait_2").bounding_box()
    overlap_x = min(first["x"] + first["width"], second["x"] + second["width"]) - max(first["x"], second["x"])
    overlap_y = min(first["y"] + first["height"], second["y"] + second["height"]) - max(first["y"], second["y"])
    assert overlap_x <= 0 or overlap_y <= 0, (first, second)

    node_el(page, "hello").locator(".outputs .port-add[data-add-port='next']").click()
    expect(page.locator("#add-next")).to_contain_text("hello → next")
    expect(page.locator("#palette-search")).to_be_focused()
    page.keyboard.type("transform")
    page.keyboard.press("Enter")
    expect(node_el(page, "transform_1")).to_be_visible()
    expect(page.locator("#add-next")).to_be_hidden()
    assert node_el(page, "transform_1").bounding_box()["x"] > node_el(page, "hello").bounding_box()["x"] + 150
    wait_saved(page)
    assert ("hello", "next", "transform_1") in {(e["source"], e["port"], e["target"]) for e in version_document(current_version(circuit))["edges"]}
    assert s.console_errors == [], s.console_errors


def test_a_cancelled_test_run_shows_its_closed_wait_as_cancelled(world, browser_session):
    steps = [
        node("nap", "util.wait", {"seconds": 3600}, position={"x": 300, "y": 100}),
        node("after", "util.log", {"message": "late"}, position={"x": 600, "y": 100}),
    ]
    circuit = build(world, "napper", steps, chain("nap", "after"), publish=False)
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/napper/edit")
    page.click("#btn-test")
    page.fill("#test-payload", "{}")
    page.click("#test-start")
    expect(node_el(page, "nap")).to_have_class(re.compile("run-waiting"), timeout=15_000)
    execution = Execution.objects.get(circuit=circuit, is_test=True)
    status = page.evaluate(
        """async (id) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const r = await fetch(`/api/v1/executions/${id}/cancel`, {method: 'POST', headers: {'X-CSRFToken': token, 'X-Tenant': 'acme'}});
            return r.status;
        }""",
        execution.pk,
    )
    assert status == 200
    expect(node_el(page, "nap")).to_have_class(re.compile("run-cancelled"), timeout=10_000)
    expect(node_el(page, "nap").locator(".node-status")).to_have_text("cancelled")
    expect(node_el(page, "after")).to_have_class(re.compile("run-skipped"))
    assert s.console_errors == [], s.console_errors


def test_after_a_test_run_the_builder_highlights_the_path_it_took(world, browser_session):
    steps = [
        node("check", "control.if", {"condition": "{{ trigger.n > 1 }}"}, position={"x": 300, "y": 100}),
        node("big", "util.transform", {"template": "big"}, position={"x": 600, "y": 40}),
        node("small", "util.transform", {"template": "small"}, position={"x": 600, "y": 220}),
    ]
    edges = [
        {"source": "trigger", "port": "next", "target": "check"},
        {"source": "check", "port": "true", "target": "big"},
        {"source": "check", "port": "false", "target": "small"},
    ]
    build(world, "paths", steps, edges, publish=False)
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/paths/edit")
    page.click("#btn-test")
    page.fill("#test-payload", '{"n": 0}')
    page.click("#test-start")
    expect(node_el(page, "small")).to_have_class(re.compile("run-succeeded"), timeout=15_000)
    expect(page.locator("#drawflow .connection.is-taken")).to_have_count(2)
    small = node_el(page, "small").get_attribute("id").removeprefix("node-")
    expect(page.locator(f"#drawflow .connection.is-taken.node_in_node-{small}")).to_have_count(1)
    expect(node_el(page, "big")).to_have_class(re.compile("run-skipped"))
    assert s.console_errors == [], s.console_errors
