"""The builder's editing tools in a real browser: keyboard, clipboard, undo, layout, triggers,
versions, conflicts, re-running from a step, and the tablet layout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from circuits.automation.models.execution import Execution
from circuits.automation.services.versions import SaveDraft, current_version, version_document
from circuits.records.models import Record
from tests.browser.test_builder_journey import node_el, open_step, wait_saved
from tests.engine.helpers import build, chain, node

pytestmark = pytest.mark.browser


def test_keyboard_clipboard_undo_redo_layout_and_triggers_work_without_a_mouse_drag(world, browser_session):
    circuit = build(world, "tools", [node("hello", "util.log", {"message": "hi"})], chain("hello"), triggers=[{"type": "manual"}])
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/tools/edit")
    expect(node_el(page, "trigger").locator(".trigger-summary")).to_have_text("Manual")

    # Add an action from the palette with the keyboard; it is selected and focused.
    page.fill("#palette-search", "set variable")
    expect(page.locator(".palette-item[data-action='util.log']")).to_be_hidden()
    page.locator(".palette-item[data-action='util.set_variable']").focus()
    page.keyboard.press("Enter")
    expect(node_el(page, "set_variable_1")).to_be_focused()

    # Copy, paste, delete, undo, redo.
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(node_el(page, "set_variable_2")).to_be_visible()
    page.keyboard.press("Delete")
    expect(node_el(page, "set_variable_2")).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(node_el(page, "set_variable_2")).to_be_visible()
    page.keyboard.press("Control+y")
    expect(node_el(page, "set_variable_2")).to_have_count(0)
    wait_saved(page)
    assert [n["key"] for n in version_document(current_version(circuit))["nodes"]] == ["hello", "set_variable_1"]

    # Arrow keys move the focused step; auto-layout arranges the steps; Ctrl+S saves at once.
    node_el(page, "set_variable_1").focus()
    before = node_el(page, "set_variable_1").bounding_box()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Shift+ArrowRight")
    after = node_el(page, "set_variable_1").bounding_box()
    assert after["y"] > before["y"] and after["x"] > before["x"]
    page.click("#btn-layout")
    page.keyboard.press("Control+s")
    expect(page.locator("#flash")).to_contain_text("Saved")
    positions = {n["key"]: n["position"] for n in version_document(current_version(circuit))["nodes"]}
    assert positions["hello"]["x"] > 40  # one layer right of the trigger

    # The trigger is edited like a node: its type and config, saved through SaveTrigger.
    node_el(page, "trigger").click()
    page.wait_for_selector("#trigger-form[data-ready]")
    page.select_option("#f-trigger-type", "event")
    page.wait_for_selector("#f-c-event")
    page.wait_for_selector("#trigger-form[data-ready]")
    page.fill("#f-c-event", "lead.created")
    page.click("#trigger-save")
    expect(page.locator("#trigger-panel")).to_contain_text("Trigger saved")
    expect(node_el(page, "trigger").locator(".trigger-summary")).to_have_text("Platform event")
    trigger = circuit.triggers.get()
    assert (trigger.type, trigger.key) == ("event", "lead.created")

    # Versions: the published v1 against the draft v2, as a diff.
    page.click("#btn-versions")
    page.click("#btn-diff")
    expect(page.locator("#diff")).to_contain_text("Steps added")
    expect(page.locator("#diff")).to_contain_text("set_variable_1")
    assert s.console_errors == [], s.console_errors


def test_a_conflicting_save_by_someone_else_is_shown_not_lost(world, browser_session):
    circuit = build(world, "shared", [node("hello", "util.log", {"message": "hi"})], chain("hello"), publish=False)
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/shared/edit")
    expect(node_el(page, "hello")).to_be_visible()
    theirs = {
        "nodes": [{"key": "theirs", "action": "util.log", "config": {"message": "mine"}}],
        "edges": [{"source": "trigger", "port": "next", "target": "theirs"}],
    }
    SaveDraft(world.tenant, world.admin, circuit, theirs, base_revision=1).execute()
    node_el(page, "hello").focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#conflict-banner")).to_be_visible(timeout=10_000)
    expect(page.locator("#conflict-banner")).to_contain_text("Reload")
    assert [n["key"] for n in version_document(current_version(circuit))["nodes"]] == ["theirs"]
    page.click("#btn-reload")
    expect(node_el(page, "theirs")).to_be_visible()
    expect(page.locator("#conflict-banner")).to_be_hidden()


def test_rerun_from_a_step_keeps_the_earlier_steps_and_runs_the_changed_one(world, browser_session):
    nodes = [
        node("lead", "data.create_record", {"object_type": "lead", "fields": {"last_name": "{{ trigger.name }}", "email": "a@example.com"}}),
        node("shout", "util.transform", {"template": "{{ steps.lead.output.last_name | upper }}"}),
    ]
    circuit = build(world, "pins", nodes, chain("lead", "shout"), publish=False)
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/pins/edit")
    page.click("#btn-test")
    page.fill("#test-payload", '{"name": "Hopper"}')
    page.click("#test-start")
    expect(node_el(page, "shout")).to_have_class(re.compile("run-succeeded"), timeout=15_000)
    expect(node_el(page, "shout").locator(".node-io")).to_contain_text("HOPPER")
    first = Execution.objects.get(circuit=circuit)

    open_step(page, "shout")
    page.fill("#f-c-template", "Dear {{ steps.lead.output.last_name }}")
    wait_saved(page)
    page.click("#tab-run")
    page.click("#btn-rerun-step")
    expect(node_el(page, "shout").locator(".node-io")).to_contain_text("Dear Hopper", timeout=15_000)
    expect(node_el(page, "lead")).to_have_class(re.compile("run-succeeded"))
    rerun = Execution.objects.exclude(pk=first.pk).get(circuit=circuit)
    assert rerun.rerun_of_id == first.pk and rerun.output == "Dear Hopper"
    assert Record.objects.count() == 1  # the pinned create-record step did not run again
    assert s.console_errors == [], s.console_errors


def test_the_builder_works_on_a_tablet(world, browser_session):
    steps = [
        node("hello", "util.log", {"message": "hi"}, position={"x": 300, "y": 100}),
        node("bye", "util.log", {"message": "bye"}, position={"x": 580, "y": 100}),
    ]
    build(world, "tablet", steps, chain("hello", "bye"))
    s = browser_session(world.editor, width=1024, height=768)
    page = s.page
    s.goto("/t/acme/circuits/tablet/edit")
    expect(node_el(page, "bye")).to_be_in_viewport()
    expect(page.locator(".palette-item").first).to_be_hidden()  # the palette is a drawer here
    page.click("#palette-toggle")
    expect(page.locator(".palette-item[data-action='util.log']")).to_be_visible()
    page.click("#palette-toggle")
    open_step(page, "hello")
    expect(page.locator("#f-c-message")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    s.screenshot("builder-tablet", copy_to_docs=True)
    portrait = browser_session(world.editor, width=768, height=1024)
    portrait.goto("/t/acme/circuits/tablet/edit")
    expect(node_el(portrait.page, "bye")).to_be_visible()
    assert portrait.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert s.console_errors == [] and portrait.console_errors == []


def test_importing_a_document_into_the_draft_keeps_switch_case_connections_and_undo_brings_back_the_old_steps(world, browser_session):
    circuit = build(world, "importer", [node("old", "util.log", {"message": "old"}, position={"x": 300, "y": 100})], chain("old"), publish=False)
    routed = (Path(__file__).resolve().parents[2] / "circuits" / "automation" / "gallery" / "score-and-route-api.json").read_text()
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/importer/edit")
    page.click("#btn-import")
    page.fill("#import-text", routed)
    page.click("#import-confirm")
    expect(node_el(page, "route").locator(".outputs .output")).to_have_count(4)  # default, enterprise, pro, error
    expect(node_el(page, "route").locator(".outputs [data-port='enterprise']")).to_have_count(1)
    wait_saved(page)
    edges = {(e["source"], e["port"], e["target"]) for e in version_document(current_version(circuit))["edges"]}
    assert ("route", "enterprise", "priority") in edges and ("route", "pro", "standard") in edges and ("route", "default", "community") in edges
    node_el(page, "route").focus()
    page.keyboard.press("Control+z")
    expect(node_el(page, "old")).to_be_visible()
    wait_saved(page)
    assert [n["key"] for n in version_document(current_version(circuit))["nodes"]] == ["old"]
    assert s.console_errors == [], s.console_errors
