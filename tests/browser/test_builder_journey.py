"""The whole builder journey in a real browser, and what other roles and tenants cannot do.

Sign in, create a circuit, drag three actions onto the canvas, connect them, configure one
through its form, save, see a validation error on a bad config, fix it, publish, test-run and
watch the nodes turn green live over the WebSocket, then open the execution page and see the
step outputs. Screenshots go to test-artifacts/ (and the final ones to docs/screenshots/).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, ExecutionStatus
from tests.engine.helpers import build, chain, node

pytestmark = pytest.mark.browser
PAGES_URLS = Path(__file__).resolve().parents[2] / "circuits" / "web" / "views" / "pages" / "urls.py"


def node_el(page, key: str):
    return page.locator(f".drawflow-node[data-key='{key}']")


def drop_action(page, action: str, x: int, y: int) -> None:
    """Drag a palette item onto the canvas at (x, y) of the canvas' box (HTML drag and drop)."""
    page.fill("#palette-search", action)
    item = page.locator(f".palette-item[data-action='{action}']")
    item.drag_to(page.locator("#drawflow"), target_position={"x": x, "y": y})
    page.fill("#palette-search", "")


def connect(page, source: str, port_index: int, target: str) -> None:
    """Drag from a node's output port to another node's input, with the mouse, until the
    canvas draws that connection. Under a loaded CI machine a drag can start before the page
    has settled (the flash banner and the first save's re-render move things by a few pixels);
    the user would simply drag again, and so does this, at most three times."""
    source_id = node_el(page, source).get_attribute("id")  # Drawflow's "node-<n>"
    target_id = node_el(page, target).get_attribute("id")
    drawn = page.locator(f"svg.connection.node_out_{source_id}.node_in_{target_id}")
    for _attempt in range(3):
        page.locator(f".drawflow-node[data-key='{source}'] .outputs .output_{port_index}").hover()
        page.mouse.down()
        box = node_el(page, target).locator(".inputs .input_1").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=8)
        page.mouse.up()
        try:
            expect(drawn).to_have_count(1, timeout=3_000)
            return
        except AssertionError:
            continue
    expect(drawn).to_have_count(1)


def open_step(page, key: str) -> None:
    """Select a step and wait until its server-rendered form is live."""
    node_el(page, key).click()
    page.wait_for_selector(f"#node-form[data-key='{key}'][data-ready]")


def wait_saved(page) -> None:
    """Wait until typed edits reached the server-side form and the draft was saved."""
    page.wait_for_function("!document.body.dataset.formBusy")
    expect(page.locator("#save-state")).to_have_text("All changes saved", timeout=10_000)


def draft_document(circuit: Circuit) -> dict:
    from circuits.automation.services.versions import current_version, version_document

    return version_document(current_version(circuit))


def test_an_editor_builds_publishes_and_test_runs_a_circuit_and_watches_it_live(world, browser_session):
    s = browser_session(world.editor)
    page = s.page

    # Create a circuit: "New circuit" on the list leads to the builder.
    s.goto(f"/t/{world.tenant.slug}/circuits/")
    page.click("#new-circuit")
    page.fill("#new-name", "Greeter")
    page.click("#create-blank")
    page.wait_for_url(re.compile(r"/t/acme/circuits/greeter/edit$"))
    expect(page.locator(".drawflow-node[data-key='trigger']")).to_be_visible()

    # Drag three actions onto the canvas.
    drop_action(page, "util.log", 330, 140)
    drop_action(page, "util.wait", 330, 330)
    drop_action(page, "util.transform", 600, 240)
    for key in ("log_1", "wait_1", "transform_1"):
        expect(node_el(page, key)).to_be_visible()

    # Connect trigger → log → wait → transform by dragging ports.
    connect(page, "trigger", 1, "log_1")
    connect(page, "log_1", 1, "wait_1")
    connect(page, "wait_1", 1, "transform_1")
    wait_saved(page)
    circuit = Circuit.objects.get(tenant=world.tenant, slug="greeter")
    assert {(e["source"], e["port"], e["target"]) for e in draft_document(circuit)["edges"]} == {
        ("trigger", "next", "log_1"),
        ("log_1", "next", "wait_1"),
        ("wait_1", "next", "transform_1"),
    }

    # The saved draft already reports what is missing: shown on the offending nodes.
    expect(node_el(page, "log_1")).to_have_class(re.compile(r"has-problem"))
    expect(node_el(page, "log_1").locator(".node-problem")).to_contain_text("message")

    # Configure the log step through its server-rendered form.
    open_step(page, "log_1")
    page.fill("#f-c-message", "Greeting {{ trigger.name }}")
    page.fill("#f-n-label", "Say hello")
    expect(node_el(page, "log_1").locator(".node-label")).to_have_text("Say hello")
    wait_saved(page)
    expect(node_el(page, "log_1")).not_to_have_class(re.compile(r"has-problem"))

    # A bad config: a template that does not compile is refused inline and on the node.
    open_step(page, "transform_1")
    page.fill("#f-c-template", '{"greeting": "Hello {{ trigger.name "}')
    expect(page.locator("#fe-c-template")).to_contain_text("template", timeout=10_000)
    wait_saved(page)
    expect(node_el(page, "transform_1")).to_have_class(re.compile(r"has-problem"))
    page.click("#btn-validate")
    expect(page.locator("#flash")).to_contain_text("problem(s) found")
    expect(page.locator("#panel-problems")).to_be_visible()
    expect(page.locator("#panel-problems")).to_contain_text("transform_1")
    s.screenshot("builder-validation")

    # Fix it, and give the wait a duration (long enough to watch it run on a busy machine too).
    page.click("#tab-step")
    open_step(page, "transform_1")
    page.fill("#f-c-template", '{"greeting": "Hello {{ trigger.name }}", "chars": "{{ trigger.name | length }}"}')
    expect(page.locator("#fe-c-template")).to_be_empty()
    open_step(page, "wait_1")
    page.fill("#f-c-seconds", "3")
    wait_saved(page)
    page.click("#btn-validate")
    expect(page.locator("#flash")).to_contain_text("The circuit is valid")
    expect(page.locator("#panel-problems")).to_contain_text("No problems found")

    # Publish with a note.
    page.click("#btn-publish")
    page.fill("#publish-note", "First version: greet people")
    page.click("#publish-confirm")
    expect(page.locator("#flash")).to_contain_text("Published version 1")
    published = circuit.versions.get(status="published")
    assert published.note == "First version: greet people"
    assert {n.key for n in published.nodes.all()} == {"log_1", "wait_1", "transform_1"}

    # Test run: the nodes light up live (running → succeeded) over the WebSocket.
    page.click("#btn-test")
    page.fill("#test-payload", json.dumps({"name": "Ada"}))
    page.click("#test-start")
    expect(node_el(page, "wait_1")).to_have_class(re.compile(r"run-running"), timeout=10_000)
    expect(node_el(page, "log_1")).to_have_class(re.compile(r"run-succeeded"))
    expect(node_el(page, "transform_1")).not_to_have_class(re.compile(r"run-succeeded"))
    for key in ("log_1", "wait_1", "transform_1"):
        expect(node_el(page, key)).to_have_class(re.compile(r"run-succeeded"), timeout=15_000)
    # The last step's event comes before the execution's own end is written: wait for the run's
    # status (it flaked reading the row while it still said "running").
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=15_000)
    execution = Execution.objects.get(circuit=circuit, is_test=True)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.output == {"greeting": "Hello Ada", "chars": 3}

    # Each node shows its input and output; the Run tab has the details of the selected one.
    expect(node_el(page, "transform_1").locator(".node-io")).to_contain_text("Hello Ada")
    node_el(page, "transform_1").click()
    page.click("#tab-run")
    expect(page.locator("#panel-run .step-output")).to_contain_text('"greeting": "Hello Ada"')
    page.click("#btn-fit")
    s.screenshot("builder", copy_to_docs=True)

    # The execution page (built with the other pages) shows the step outputs.
    assert "executions/<int:pk>/" in PAGES_URLS.read_text()
    page.click("#run-link")
    page.wait_for_url(re.compile(rf"/t/acme/executions/{execution.pk}/$"))
    expect(page.locator("body")).to_contain_text("transform_1")
    for summary in page.locator("summary", has_text="Output").all():
        summary.click()
    expect(page.locator("details[open] pre", has_text="Hello Ada").first).to_be_visible()
    # Its graph shows every step's status and the path taken.
    for key in ("log_1", "wait_1", "transform_1"):
        expect(page.locator(f"#execution-graph .drawflow-node[data-key='{key}']")).to_have_class(re.compile(r"run-succeeded"))
    expect(page.locator("#execution-graph .connection.is-taken")).to_have_count(3)
    page.evaluate("window.scrollTo(0, 0)")
    s.screenshot("execution", copy_to_docs=True)

    assert s.console_errors == [], s.console_errors


def test_a_viewer_sees_the_builder_read_only_and_cannot_change_anything(world, browser_session):
    circuit = build(world, "read-only", [node("hello", "util.log", {"message": "hi"})], chain("hello"), publish=False)
    s = browser_session(world.viewer)
    page = s.page
    s.goto(f"/t/acme/circuits/{circuit.slug}/edit")
    expect(node_el(page, "hello")).to_be_visible()
    expect(page.locator("#save-state")).to_have_text("Read only")
    for button in ("#btn-publish", "#btn-test", "#btn-undo", "#btn-import", "#btn-layout"):
        expect(page.locator(button)).to_have_count(0)
    node_el(page, "hello").click()
    expect(page.locator("#f-c-message")).to_be_disabled()
    expect(page.locator("#f-c-message")).to_have_value("hi")
    assert s.console_errors == [], s.console_errors
    # Even a hand-made request to the API the builder saves through is refused.
    status = page.evaluate(
        """async (slug) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const r = await fetch(`/api/v1/circuits/${slug}/draft`, {method: 'PUT',
                headers: {'X-CSRFToken': token, 'X-Tenant': 'acme', 'Content-Type': 'application/json'},
                body: JSON.stringify({nodes: [], edges: [], base_revision: 1})});
            return r.status;
        }""",
        circuit.slug,
    )
    assert status == 403
    assert draft_document(circuit)["nodes"][0]["key"] == "hello"


def test_a_user_of_another_tenant_can_neither_open_the_builder_nor_subscribe_to_its_runs(world, browser_session):
    circuit = build(world, "private", [node("hello", "util.log", {"message": "hi"})], chain("hello"))
    from circuits.automation.dispatch import create_execution
    from circuits.automation.engine.runner import run_now

    execution = run_now(create_execution(circuit, {}))
    s = browser_session(world.outsider)
    page = s.page
    for path in (
        f"t/acme/circuits/{circuit.slug}/edit",
        f"t/acme/circuits/{circuit.slug}/edit/versions",
        f"api/v1/circuits/{circuit.slug}/export",
        f"api/v1/executions/{execution.pk}",
    ):
        response = page.goto(f"{s.server.url}/{path}")
        assert response.status == 404, path
    s.goto("/t/globex/")
    outcome = page.evaluate(
        """(id) => new Promise((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/ws/t/acme/executions/${id}/`);
            const seen = [];
            ws.onopen = () => seen.push('open');
            ws.onmessage = (m) => seen.push('message');
            ws.onclose = (e) => resolve({seen, code: e.code});
            setTimeout(() => resolve({seen, code: 'timeout'}), 5000);
        })""",
        execution.pk,
    )
    # Accepted and closed at once with 4403 (not a member): no snapshot, no event, and a code the page stops on.
    assert outcome == {"seen": ["open"], "code": 4403}, outcome
