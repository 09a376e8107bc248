"""The builder's node view and pinned data (#13), in a real browser: a step's parameters beside
its last test-run data, the taken path highlighted, and a pinned output used by test runs."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from actions.web.tests.server import Reply, serve
from circuits.automation.models.execution import Execution
from circuits.automation.services.versions import current_version, version_document
from tests.browser.test_builder_journey import node_el, open_step, wait_saved
from tests.engine.helpers import build, chain, node

pytestmark = pytest.mark.browser


def start_test_run(page, payload: str = "{}") -> None:
    """Start a test run and wait until the builder watches it (the dialog closes once it started)."""
    page.click("#btn-test")
    page.fill("#test-payload", payload)
    page.click("#test-start")
    expect(page.locator("#test-dialog")).to_be_hidden(timeout=20_000)


def test_a_step_shows_its_parameters_beside_its_last_run_data_and_the_path_not_taken_is_dimmed(world, browser_session):
    steps = [
        node("check", "control.if", {"condition": "{{ trigger.n > 1 }}"}, position={"x": 300, "y": 100}),
        node("big", "util.transform", {"template": "big"}, position={"x": 600, "y": 40}),
        node("small", "util.transform", {"template": "small {{ trigger.n }}"}, position={"x": 600, "y": 220}),
    ]
    edges = [
        {"source": "trigger", "port": "next", "target": "check"},
        {"source": "check", "port": "true", "target": "big"},
        {"source": "check", "port": "false", "target": "small"},
    ]
    build(world, "viewed", steps, edges, publish=False)
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/viewed/edit")
    start_test_run(page, '{"n": 0}')
    expect(node_el(page, "small")).to_have_class(re.compile("run-succeeded"), timeout=30_000)
    # The path it took is drawn as taken, the other branch dimmed.
    expect(page.locator("#drawflow .connection.is-taken")).to_have_count(2, timeout=15_000)
    big = node_el(page, "big").get_attribute("id").removeprefix("node-")
    expect(page.locator(f"#drawflow .connection.is-not-taken.node_in_node-{big}")).to_have_count(1)
    expect(node_el(page, "big")).to_have_class(re.compile("run-skipped"))

    # Opening a step shows its form and its run data together: input (what came in) and output.
    open_step(page, "check")
    data = page.locator("#step-data")
    expect(data).to_be_visible()
    expect(page.locator("#f-c-condition")).to_be_visible()
    expect(data.locator(".nv-input")).to_contain_text("trigger")
    expect(data.locator(".nv-input-value")).to_contain_text('"n": 0')
    expect(data.locator(".nv-status")).to_contain_text("false")
    form_box, data_box = page.locator("#step-form").bounding_box(), data.bounding_box()
    assert data_box["x"] >= form_box["x"] + form_box["width"] - 1, (form_box, data_box)  # side by side
    expect(page.locator("#tab-step")).to_have_attribute("aria-selected", "true")
    # The Run tab gives the canvas its width back; the next step shows what the if handed on.
    page.click("#tab-run")
    expect(data).to_be_hidden()
    open_step(page, "small")
    expect(data.locator(".nv-input")).to_contain_text("steps.check.output")
    expect(data.locator(".nv-output-value")).to_contain_text("small 0")
    expect(page.locator("#f-c-template")).to_be_visible()
    assert s.console_errors == [], s.console_errors


@pytest.fixture
def counting_server(world):
    """A local HTTP server counting the requests it gets, named in the tenant's allow-list."""
    with serve({"/quote": lambda seen, handler: Reply(200, '{"price": 42}', "application/json")}) as server:
        world.tenant.outbound_allowlist = [server.allow]
        world.tenant.save(update_fields=["outbound_allowlist"])
        yield server


def test_a_pinned_http_step_is_not_called_by_later_test_runs_until_it_is_unpinned(world, browser_session, counting_server):
    steps = [
        node("quote", "web.http_request", {"url": counting_server.url("/quote")}, position={"x": 300, "y": 100}),
        node("say", "util.transform", {"template": "price {{ steps.quote.output.body.price }}"}, position={"x": 600, "y": 100}),
    ]
    circuit = build(world, "pinner", steps, chain("quote", "say"), publish=False)
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/pinner/edit")
    start_test_run(page)
    expect(node_el(page, "say")).to_have_class(re.compile("run-succeeded"), timeout=30_000)
    assert len(counting_server.requests) == 1

    # Pin the HTTP step's output from the run: the canvas shows it pinned, the draft stores it.
    open_step(page, "quote")
    page.click("#btn-pin")
    expect(node_el(page, "quote").locator(".node-pin")).to_be_visible()
    expect(node_el(page, "quote")).to_have_class(re.compile("is-pinned"))
    expect(page.locator("#step-data .nv-pinned")).to_contain_text('"price": 42')
    wait_saved(page)
    pinned = next(n for n in version_document(current_version(circuit))["nodes"] if n["key"] == "quote")["pinned"]
    assert pinned["port"] == "next" and pinned["output"]["body"] == {"price": 42}

    # The next test run takes the pinned output: the server is not called again.
    start_test_run(page)
    expect(node_el(page, "say")).to_have_class(re.compile("run-succeeded"), timeout=30_000)
    expect(node_el(page, "say").locator(".node-io")).to_contain_text("price 42")
    latest = Execution.objects.filter(circuit=circuit, is_test=True).order_by("-pk").first()
    assert latest.output == "price 42"
    assert len(counting_server.requests) == 1
    open_step(page, "quote")
    expect(page.locator("#step-data .nv-status")).to_contain_text("pinned data used")

    # Unpinned, the step runs again.
    page.click("#btn-unpin")
    expect(node_el(page, "quote").locator(".node-pin")).to_have_count(0)
    wait_saved(page)
    assert "pinned" not in next(n for n in version_document(current_version(circuit))["nodes"] if n["key"] == "quote")
    start_test_run(page)
    expect(node_el(page, "say")).to_have_class(re.compile("run-succeeded"), timeout=30_000)
    open_step(page, "quote")
    expect(page.locator("#step-data .nv-status")).to_contain_text("succeeded")
    expect(page.locator("#step-data .nv-status")).not_to_contain_text("pinned data used")
    assert len(counting_server.requests) == 2
    assert s.console_errors == [], s.console_errors


def test_variables_are_edited_as_name_value_rows_and_can_be_shown_as_json(world, browser_session):
    steps = [node("keep", "util.set_variable", {"variables": {"greeting": "hi", "n": 3}}, position={"x": 300, "y": 100})]
    circuit = build(world, "rows", steps, chain("keep"), publish=False)
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/rows/edit")
    open_step(page, "keep")
    rows = page.locator("[data-pairs='c.variables'] .pair-row")
    expect(rows).to_have_count(3)  # two variables and a blank row
    # (stored as jsonb, whose key order is its own: rows are found by name)
    keys = page.eval_on_selector_all("[data-pairs='c.variables'] input[name='c.variables.__k']", "els => els.map((e) => e.value)")
    assert sorted(keys) == ["", "greeting", "n"] and keys[-1] == ""
    greeting, n = rows.nth(keys.index("greeting")), rows.nth(keys.index("n"))
    expect(n.locator("input[name='c.variables.__v']")).to_have_value("3")
    # Change a value, add a row with an expression, remove one.
    greeting.locator("input[name='c.variables.__v']").fill("hello {{ trigger.name }}")
    rows.nth(2).locator("input[name='c.variables.__k']").fill("code")
    rows.nth(2).locator("input[name='c.variables.__v']").fill('"42"')
    n.locator("[data-pair-remove]").click()
    wait_saved(page)
    config = version_document(current_version(circuit))["nodes"][0]["config"]
    assert config == {"variables": {"greeting": "hello {{ trigger.name }}", "code": "42"}}
    page.click("[data-pairs='c.variables'] [data-pair-add]")
    expect(rows).to_have_count(3)

    # As JSON, the same config; and back to rows.
    page.click("[data-json-toggle='c.variables']")
    expect(page.locator("#f-c-variables")).to_have_value(re.compile(r'"code": "42"'))
    page.fill("#f-c-variables", '{"greeting": "hey", "code": 7}')
    wait_saved(page)
    assert version_document(current_version(circuit))["nodes"][0]["config"] == {"variables": {"greeting": "hey", "code": 7}}
    page.click("[data-json-toggle='c.variables']")
    expect(page.locator("[data-pairs='c.variables'] input[name='c.variables.__v'][value='7']")).to_have_count(1)
    assert s.console_errors == [], s.console_errors


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # the loopback test server
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_listening_for_a_test_event_runs_the_draft_with_the_next_call_to_the_test_url(world, browser_session):
    steps = [node("greet", "util.transform", {"template": "Hello {{ trigger.body.name }}"}, position={"x": 300, "y": 100})]
    circuit = build(world, "listener", steps, chain("greet"), publish=False, triggers=[{"type": "webhook", "config": {}}])
    token = circuit.triggers.get().webhook_token
    s = browser_session(world.editor)
    page = s.page
    s.goto("/t/acme/circuits/listener/edit")
    # Nobody listens yet: the test URL runs nothing.
    assert _post(f"{s.server.url}/hooks/{token}/test", b'{"name": "early"}') == 404
    page.click("#btn-test")
    page.click("#test-listen")
    expect(page.locator("#test-url")).to_have_text(re.compile(rf"/hooks/{token}/test$"), timeout=15_000)
    assert _post(page.locator("#test-url").inner_text(), b'{"name": "Grace"}') == 202
    expect(page.locator("#test-dialog")).to_be_hidden(timeout=20_000)
    expect(node_el(page, "greet")).to_have_class(re.compile("run-succeeded"), timeout=30_000)
    expect(node_el(page, "greet").locator(".node-io")).to_contain_text("Hello Grace")
    run = Execution.objects.get(circuit=circuit)
    assert run.is_test and run.input["body"] == {"name": "Grace"} and run.started_by_id == world.editor.pk
    # One call per listen: the next one is refused again.
    assert _post(f"{s.server.url}/hooks/{token}/test", b'{"name": "late"}') == 404
    assert Execution.objects.filter(circuit=circuit).count() == 1
    assert s.console_errors == [], s.console_errors
