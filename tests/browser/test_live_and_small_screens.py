"""Live everywhere it matters, and every page at phone width (issue #13), in a real browser.

Live: a change made in the server — by a real execution a webhook started, or by another
signed-in session — shows up on the open page without a reload (record pages, the overview's
counts and "Needs attention", notifications). Small screens: at 390×844 no page scrolls
sideways, the navigation is reachable, tables scroll inside their own box, form fields fit,
and the builder's toolbar keeps every button on screen.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from circuits.automation.models.execution import ExecutionStatus
from circuits.automation.services.versions import PublishDraft, SaveDraft
from circuits.records.service import CreateRecord
from intelligence.graph.services import UpsertEntity
from tests.engine.helpers import build, chain, node, run

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _post_hook(server_url: str, token: str, payload: dict) -> int:
    request = urllib.request.Request(f"{server_url}/hooks/{token}", data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # the loopback test server
        return json.loads(response.read())["execution_id"]


def _live(session) -> None:
    """Wait until the page's live socket is open (events sent before that are not for it)."""
    expect(session.page.locator("body[data-live=open]")).to_have_count(1)


# --- live -----------------------------------------------------------------------------------------


def test_a_record_page_follows_another_sessions_edit_a_circuits_update_and_the_delete_without_a_reload(world, browser_session):
    lead = CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.com", "first_name": "Ada"}).execute()
    touch = build(
        world,
        "touch-lead",
        [node("touch", "data.update_record", {"object_type": "lead", "record_id": "{{ trigger.body.id }}", "fields": {"score": 77}})],
        chain("touch"),
        triggers=[{"type": "webhook", "config": {}}],
    )
    viewer = browser_session(world.viewer)
    page = viewer.page
    viewer.goto(f"/t/acme/records/lead/{lead.pk}/")
    _live(viewer)
    page.evaluate("window.__notReloaded = true")
    record = page.locator("#record-live")
    expect(record).to_contain_text("Ada")

    # Another session edits the record through the form.
    editor = browser_session(world.editor)
    editor.goto(f"/t/acme/records/lead/{lead.pk}/edit")
    editor.page.fill("[name=first_name]", "Augusta")
    editor.page.locator("main form button[type=submit]").first.click()
    editor.page.wait_for_url(f"**/records/lead/{lead.pk}/")
    expect(record).to_contain_text("Augusta")
    expect(record.locator(".history")).to_contain_text("by editor-a")

    # A real execution (started by a webhook, run by the server's worker) changes it.
    execution_id = _post_hook(viewer.server.url, touch.triggers.get().webhook_token, {"id": lead.pk})
    expect(record.locator(".history")).to_contain_text(f"execution #{execution_id}")
    expect(record).to_contain_text("77")

    # Deleted elsewhere: the page says so instead of showing a record that is gone.
    editor.goto(f"/t/acme/records/lead/{lead.pk}/")
    editor.page.once("dialog", lambda dialog: dialog.accept())
    editor.page.locator("form[action$='/delete'] button").click()
    editor.page.wait_for_url("**/records/lead/")
    expect(record.locator("[data-refresh-gone-note]")).to_have_text("This record was deleted.")
    assert page.evaluate("window.__notReloaded") is True
    assert viewer.console_errors == [], viewer.console_errors


def test_the_record_list_and_the_types_count_follow_a_record_another_session_adds(world, browser_session):
    CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.com"}).execute()
    viewer = browser_session(world.viewer)
    page = viewer.page
    viewer.goto("/t/acme/records/lead/")
    _live(viewer)
    types = browser_session(world.viewer)
    types.goto("/t/acme/records/")
    _live(types)
    lead_count = types.page.locator("#record-types-live tr", has_text="lead").locator("td").nth(2)
    expect(lead_count).to_have_text("1")

    editor = browser_session(world.editor)
    editor.goto("/t/acme/records/lead/new")
    editor.page.fill("[name=email]", "grace@example.com")
    editor.page.locator("main form button[type=submit]").first.click()
    editor.page.wait_for_url("**/records/lead/*/")
    expect(page.locator("#record-results")).to_contain_text("grace@example.com")
    expect(lead_count).to_have_text("2")
    assert viewer.console_errors == [] and types.console_errors == [], (viewer.console_errors, types.console_errors)


def test_the_overview_counts_needs_attention_and_notifications_follow_a_retry_and_a_webhook_run_live(world, browser_session):
    flaky = build(world, "flaky", [node("calc", "util.transform", {"template": "{{ 10 // trigger.n }}"})], chain("calc"))
    failed = run(flaky, {"n": 0})
    assert failed.status == ExecutionStatus.FAILED
    # The fix, published: a retry on the published version succeeds.
    SaveDraft(world.tenant, world.owner, flaky, {"nodes": [node("calc", "util.transform", {"template": "{{ 10 }}"})], "edges": chain("calc")}).execute()
    PublishDraft(world.tenant, world.owner, flaky).execute()
    announce = build(
        world,
        "announce",
        [node("tell", "notify.inapp", {"title": "Lead {{ trigger.body.who }} arrived", "level": "info"})],
        chain("tell"),
        triggers=[{"type": "webhook", "config": {}}],
    )

    viewer = browser_session(world.viewer)
    page = viewer.page
    viewer.goto("/t/acme/")
    _live(viewer)
    page.evaluate("window.__notReloaded = true")
    attention = page.locator("section[aria-labelledby=failures-title]")
    expect(attention.locator(f"a[href$='/executions/{failed.pk}/']")).to_have_count(1)
    day_total = page.locator(".stat", has_text="executions in the last 24 h").locator(".stat-n")
    expect(day_total).to_have_text("1")

    # Another session retries the failure on the published fix, from the execution page.
    operator = browser_session(world.operator)
    operator.goto(f"/t/acme/executions/{failed.pk}/")
    operator.page.get_by_role("button", name="Retry on published").click()
    expect(attention.locator(f"a[href$='/executions/{failed.pk}/']")).to_have_count(0)
    expect(attention).to_contain_text("No failed executions.")
    expect(day_total).to_have_text("2")

    # A webhook run that notifies everyone: the bell, the unread count and the list follow.
    _post_hook(viewer.server.url, announce.triggers.get().webhook_token, {"who": "Ada"})
    expect(page.locator(".stat", has_text="unread notifications").locator(".stat-n")).to_have_text("1")
    expect(page.locator("#notif-bell")).to_contain_text("1")
    expect(day_total).to_have_text("3")
    assert page.evaluate("window.__notReloaded") is True

    viewer.goto("/t/acme/notifications/")
    _live(viewer)
    _post_hook(viewer.server.url, announce.triggers.get().webhook_token, {"who": "Grace"})
    expect(page.locator("#notif-results")).to_contain_text("Lead Grace arrived")
    assert viewer.console_errors == [], viewer.console_errors


# --- the execution page ---------------------------------------------------------------------------


def test_selecting_a_step_in_the_execution_graph_shows_its_input_output_and_logs_beside_it_as_the_builder_does(world, browser_session):
    circuit = build(
        world,
        "said",
        [
            node("say", "util.log", {"message": "hello {{ trigger.who }}", "level": "warning"}, position={"x": 300, "y": 100}),
            node("done", "util.transform", {"template": "ok"}, position={"x": 600, "y": 100}),
        ],
        chain("say", "done"),
    )
    execution = run(circuit, {"who": "Ada"})
    assert execution.status == ExecutionStatus.SUCCEEDED
    s = browser_session(world.viewer)
    page = s.page
    s.goto(f"/t/acme/executions/{execution.pk}/")
    graph = page.locator("#execution-graph")
    panel = page.locator("#execution-node")
    expect(panel).to_contain_text("Select a step in the graph")
    graph.locator(".drawflow-node[data-key='say']").click()
    expect(panel.locator("h3")).to_have_text("Step say")
    expect(panel.locator(".step-run .badge")).to_have_text("Succeeded")
    expect(panel.locator(".step-input")).to_be_visible()
    expect(panel.locator(".step-output")).to_contain_text('"message": "hello Ada"')
    # The log lines as the builder's run panel shows them: `[level] message`, one a line.
    panel.locator("summary", has_text="Logs (1)").click()
    expect(panel.locator(".step-logs")).to_have_text("[warning] hello Ada")
    expect(graph.locator(".drawflow-node.is-selected")).to_have_count(1)
    # Its row in the steps table opens too, and the trigger shows the execution's input.
    expect(page.locator("#execution-live tr[data-node=say] .step-logs")).to_be_visible()
    graph.locator(".drawflow-node[data-key='trigger']").click()
    expect(panel.locator("h3")).to_have_text("Trigger")
    expect(panel.locator("pre")).to_contain_text('"who": "Ada"')
    assert s.console_errors == [], s.console_errors


# --- phone width ----------------------------------------------------------------------------------


@dataclass
class Pages:
    circuit: str
    execution: int
    record: int
    entity: int


def _pages(world) -> Pages:
    steps = [node("hello", "util.log", {"message": "hi"}), node("done", "util.transform", {"template": 1})]
    circuit = build(world, "phone-flow", steps, chain("hello", "done"))
    execution = run(circuit, {"n": 1})
    lead = CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.com", "first_name": "Ada"}).execute()
    company, _ = UpsertEntity(world.tenant, world.editor, kind="company", name="Acme Sensors").execute()
    return Pages(circuit=circuit.slug, execution=execution.pk, record=lead.pk, entity=company.pk)


PHONE_PAGES = [
    "/t/acme/",
    "/t/acme/circuits/",
    "/t/acme/circuits/new",
    "/t/acme/circuits/{circuit}/edit",
    "/t/acme/circuits/{circuit}/on-failure/",
    "/t/acme/executions/",
    "/t/acme/executions/{execution}/",
    "/t/acme/dashboard/",
    "/t/acme/records/",
    "/t/acme/records/lead/",
    "/t/acme/records/lead/new",
    "/t/acme/records/lead/{record}/",
    "/t/acme/records/lead/{record}/edit",
    "/t/acme/records/_types/new",
    "/t/acme/events/",
    "/t/acme/notifications/",
    "/t/acme/documents/",
    "/t/acme/search/",
    "/t/acme/models/",
    "/t/acme/graph/",
    "/t/acme/graph/{entity}",
    "/t/acme/inbox/",
    "/t/acme/settings/members/",
    "/t/acme/settings/credentials/",
    "/t/acme/settings/api-keys/",
    "/t/acme/settings/outbound/",
    "/t/acme/settings/limits/",
    "/t/acme/settings/retention/",
    "/t/acme/settings/audit/",
    "/t/acme/settings/on-failure/",
]

# What the page shows at phone width that does not fit: the page's own sideways scroll, nav
# links that cannot be brought on screen, wide tables outside a box that scrolls, and form
# controls (outside such a box) that stick out of the viewport.
PHONE_PROBLEMS_JS = r"""() => {
  const width = document.documentElement.clientWidth;
  const problems = [];
  const doc = document.scrollingElement || document.documentElement;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const sticksOut = (el) => el && el.getBoundingClientRect().right > width + 1;
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const scroller = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) if (scrolls(p)) return p;
    return null;
  };
  if (doc.scrollWidth > width + 1) {
    // Name the outermost elements that stick out, so a failure says what to fix.
    const out = Array.from(document.querySelectorAll('main *, header *')).filter((el) => sticksOut(el) && !sticksOut(el.parentElement) && !scroller(el));
    problems.push(`the page scrolls sideways: ${doc.scrollWidth}px wide in ${width}px (${out.slice(0, 4).map(name).join(', ')})`);
  }
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  for (const link of document.querySelectorAll('.mainnav a')) {
    link.scrollIntoView({block: 'nearest', inline: 'nearest'});
    const r = link.getBoundingClientRect();
    if (!shown(link) || r.left < -1 || r.right > width + 1 || r.width < 20) problems.push(`nav link ${link.textContent.trim()} is not reachable`);
  }
  window.scrollTo(0, 0);
  for (const table of document.querySelectorAll('main table')) {
    if (!shown(table)) continue;
    const box = scroller(table) || (scrolls(table) ? table : null);
    if (sticksOut(box || table)) problems.push(`${name(table)} reaches past the screen`);
    if (!box && table.scrollWidth > table.parentElement.clientWidth + 1) problems.push(`the wide ${name(table)} has no box of its own to scroll in`);
  }
  const fields = 'main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), main select, main textarea, main button';
  for (const field of document.querySelectorAll(fields)) {
    if (!shown(field) || scroller(field) || field.closest('#drawflow, .graph-canvas')) continue;
    const r = field.getBoundingClientRect();
    const label = field.name || field.id || field.textContent.trim().slice(0, 30);
    if (r.left < -1 || r.right > width + 1) problems.push(`${name(field)} ${label} sticks out (${Math.round(r.left)}–${Math.round(r.right)}px)`);
  }
  return problems;
}"""


# The control a tap at (x, y) lands on.
TAPPED_JS = "([x, y]) => { const el = document.elementFromPoint(x, y); const c = el && el.closest('a, button'); return c && c.outerHTML.slice(0, 80); }"


@pytest.mark.parametrize("path", PHONE_PAGES)
def test_every_page_works_at_phone_width(world, browser_session, path):
    url = path.format(**vars(_pages(world)))
    s = browser_session(world.owner, **PHONE)
    response = s.goto(url)
    assert response.status == 200, (url, response.status)
    s.page.wait_for_load_state("networkidle")
    problems = s.page.evaluate(PHONE_PROBLEMS_JS)
    if problems:
        s.screenshot("phone-" + url.strip("/").replace("/", "_"))
    assert problems == [], f"{url}: {problems}"
    assert s.console_errors == [], s.console_errors


def test_the_builders_toolbar_keeps_every_button_on_screen_and_working_at_phone_width(world, browser_session):
    circuit = build(world, "phone-builder", [node("hello", "util.log", {"message": "hi"})], chain("hello"))
    s = browser_session(world.owner, **PHONE)
    page = s.page
    s.goto(f"/t/acme/circuits/{circuit.slug}/edit")
    toolbar = page.locator(".builder-toolbar")
    expect(toolbar).to_be_visible()
    controls = toolbar.locator("button:visible, a:visible")
    assert controls.count() >= 10
    for i in range(controls.count()):
        control = controls.nth(i)
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        label = control.get_attribute("id") or control.inner_text()
        assert box is not None and box["width"] >= 24 and box["height"] >= 24, (label, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, (label, box)
        # Nothing sits on top of it: a tap lands on the control itself.
        hit = page.evaluate(TAPPED_JS, [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
        assert hit and hit == control.evaluate("el => el.outerHTML.slice(0, 80)"), (label, hit)
    page.locator("#btn-validate").click()
    expect(page.locator("#panel-problems")).not_to_contain_text("Press Validate to check the circuit.")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    s.screenshot("builder-phone", copy_to_docs=True)
    assert s.console_errors == [], s.console_errors
