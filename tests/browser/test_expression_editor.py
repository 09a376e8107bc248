"""The expression editor (#13) in a real browser: CodeMirror fields in the node form that complete
paths from a real test run, preview the rendered value, show an unknown step inline, take a
field dragged from the node view's JSON, and the if's rules edited as rows routing a test run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from circuits.automation.models.circuit import Circuit
from tests.browser.test_builder_journey import draft_document, node_el, open_step, wait_saved
from tests.browser.test_node_view import start_test_run
from tests.engine.helpers import build, edge, node

pytestmark = pytest.mark.browser


def editor(page, name: str):
    """The CodeMirror editor of the form field `name` (its editable content)."""
    return page.locator(f".cm-content[data-expr-editor='{name}']")


def retype(page, field, text: str) -> None:
    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


@pytest.fixture
def mapped(world) -> Circuit:
    steps = [
        node("score", "util.transform", {"template": {"score": "{{ trigger.score }}", "email": "{{ trigger.email }}"}}, position={"x": 300, "y": 100}),
        node("note", "util.log", {"message": "hi"}, position={"x": 600, "y": 100}),
    ]
    return build(world, "mapped", steps, [edge("trigger", "score"), edge("score", "note")], publish=False)


def test_a_field_completes_previews_and_shows_an_unknown_step_inline(world, browser_session, mapped):
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/mapped/edit")
    start_test_run(page, '{"email": "ada@example.com", "score": 87}')
    expect(node_el(page, "note")).to_have_class(re.compile("run-succeeded"), timeout=30_000)
    open_step(page, "note")
    message = editor(page, "c.message")
    expect(message).to_have_text("hi")
    # The textarea is still the form's value, under the editor.
    expect(page.locator("#f-c-message")).to_have_value("hi")

    # Autocomplete offers the paths the last run really had.
    retype(page, message, "Mail {{ steps.score.output.em")
    options = page.locator(".cm-tooltip-autocomplete li")
    option = options.filter(has_text="steps.score.output.email").first
    expect(option).to_be_visible()
    expect(options.filter(has_text="steps.score.output.score")).to_have_count(0)  # filtered by what was typed
    option.click()  # take the completion
    message.press("End")
    page.keyboard.type(" }}")
    expect(message).to_have_text("Mail {{ steps.score.output.email }}")
    expect(page.locator("#f-c-message")).to_have_value("Mail {{ steps.score.output.email }}")

    # The live preview renders it against the run's data.
    preview = page.locator(".field:has(#f-c-message) .expr-preview")
    expect(preview).to_have_class(re.compile("is-ok"))
    expect(preview).to_contain_text("Mail ada@example.com")
    s.screenshot("expression-editor")
    wait_saved(page)
    assert draft_document(mapped)["nodes"][1]["config"]["message"] == "Mail {{ steps.score.output.email }}"

    # A step that does not exist: the message under the field, the reference underlined.
    retype(page, message, "Hi {{ steps.scroe.output.email }}")
    page.keyboard.press("Escape")
    expect(preview).to_have_class(re.compile("is-error"))
    expect(preview).to_contain_text("does not exist")
    expect(preview).to_contain_text("did you mean 'score'")
    expect(page.locator(".field:has(#f-c-message) .cm-expr-error")).to_have_text("steps.scroe.output.email")
    assert s.console_errors == [], s.console_errors


def test_dragging_a_field_of_the_input_inserts_its_expression_at_the_drop_point(world, browser_session, mapped):
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/mapped/edit")
    start_test_run(page, '{"email": "ada@example.com", "score": 87}')
    expect(node_el(page, "note")).to_have_class(re.compile("run-succeeded"), timeout=30_000)
    open_step(page, "note")
    message = editor(page, "c.message")
    retype(page, message, "Hello ")
    page.keyboard.press("Escape")
    # The input view's JSON: each key is a handle carrying its path.
    handle = page.locator("#step-data .nv-input .jt-key[data-path='steps.score.output.email']")
    expect(handle).to_be_visible()
    expect(page.locator("#step-data .nv-input-value")).to_contain_text('"email": "ada@example.com"')
    box = message.bounding_box()
    handle.drag_to(message, target_position={"x": box["width"] - 4, "y": box["height"] / 2})
    expect(message).to_have_text("Hello {{ steps.score.output.email }}")
    expect(page.locator("#f-c-message")).to_have_value("Hello {{ steps.score.output.email }}")
    expect(page.locator(".field:has(#f-c-message) .expr-preview")).to_contain_text("Hello ada@example.com")
    wait_saved(page)
    assert draft_document(mapped)["nodes"][1]["config"]["message"] == "Hello {{ steps.score.output.email }}"
    assert s.console_errors == [], s.console_errors


def test_a_rule_edited_as_rows_is_saved_and_routes_the_next_test_run(world, browser_session):
    steps = [
        node("check", "control.if", {"rules": [{"left": "{{ trigger.score }}", "op": "gt", "right": 1000}]}, position={"x": 300, "y": 100}),
        node("hot", "util.transform", {"template": "hot"}, position={"x": 600, "y": 40}),
        node("cold", "util.transform", {"template": "cold"}, position={"x": 600, "y": 220}),
    ]
    edges = [edge("trigger", "check"), edge("check", "hot", "true"), edge("check", "cold", "false")]
    circuit = build(world, "routed", steps, edges, publish=False)
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/routed/edit")
    open_step(page, "check")
    rows = page.locator("[data-rows='c.rules'] .rows-row")
    expect(rows).to_have_count(2)  # the rule and a blank row
    expect(rows.nth(0).locator(".cm-content[data-expr-editor='c.rules.__r.left']")).to_have_text("{{ trigger.score }}")
    # Remove the rule, add one typed into the blank row: score at least 50.
    rows.nth(0).locator("[data-row-remove]").click()
    expect(rows).to_have_count(1)
    row = rows.nth(0)
    retype(page, row.locator(".cm-content[data-expr-editor='c.rules.__r.left']"), "{{ trigger.score }}")
    page.keyboard.press("Escape")
    row.locator("select[data-col='op']").select_option("gte")
    retype(page, row.locator(".cm-content[data-expr-editor='c.rules.__r.right']"), "50")
    page.locator("[data-rows='c.rules'] [data-row-add]").click()
    expect(rows).to_have_count(2)
    s.screenshot("rules-rows-editor")
    wait_saved(page)
    check = next(n for n in draft_document(circuit)["nodes"] if n["key"] == "check")
    assert check["config"]["rules"] == [{"left": "{{ trigger.score }}", "op": "gte", "right": 50}]
    # The saved rule routes a test run: 80 ≥ 50 takes the true port.
    start_test_run(page, '{"score": 80}')
    expect(node_el(page, "hot")).to_have_class(re.compile("run-succeeded"), timeout=30_000)
    expect(node_el(page, "cold")).to_have_class(re.compile("run-skipped"))
    # A half-typed rule (no operator) is named by its row and changes nothing.
    open_step(page, "check")
    blank = rows.nth(1)
    retype(page, blank.locator(".cm-content[data-expr-editor='c.rules.__r.left']"), "{{ trigger.email }}")
    page.keyboard.press("Escape")
    expect(page.locator("#fe-c-rules")).to_contain_text("rule 2: operator is required")
    page.wait_for_function("!document.body.dataset.formBusy")
    check = next(n for n in draft_document(circuit)["nodes"] if n["key"] == "check")
    assert check["config"]["rules"] == [{"left": "{{ trigger.score }}", "op": "gte", "right": 50}]
    assert s.console_errors == [], s.console_errors
