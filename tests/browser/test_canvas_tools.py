"""The builder's canvas tools (#13) in a real browser: the minimap, box selection, copy/paste of
several steps as JSON (also into another circuit), icons per action family, pinned data typed
by hand, and the selected step kept in view when the node view narrows the canvas."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from circuits.automation.models.version import VersionStatus
from circuits.automation.services.versions import current_version, version_document
from tests.browser.test_builder_journey import node_el, open_step, wait_saved
from tests.engine.helpers import build, chain, node, run

pytestmark = pytest.mark.browser


def _row_circuit(world, slug: str, count: int = 6, *, publish: bool = False):
    """`count` steps in a row, 290 px apart (wider than the canvas at a readable zoom)."""
    keys = [f"s{i}" for i in range(1, count + 1)]
    steps = [node(k, "util.log", {"message": k}, position={"x": 300 + i * 290, "y": 100}) for i, k in enumerate(keys)]
    return build(world, slug, steps, chain(*keys), publish=publish)


def _in_canvas(page, key: str) -> bool:
    """Whether the step's card lies wholly inside the visible canvas."""
    return page.evaluate(
        """(key) => {
            const c = document.getElementById('drawflow').getBoundingClientRect();
            const n = document.querySelector(`.drawflow-node[data-key='${key}']`).getBoundingClientRect();
            return n.left >= c.left - 1 && n.right <= c.right + 1 && n.top >= c.top - 1 && n.bottom <= c.bottom + 1;
        }""",
        key,
    )


GEOMETRY = """(key) => {
    const d = document.getElementById('drawflow');
    const c = d.getBoundingClientRect();
    const n = document.querySelector(`.drawflow-node[data-key='${key}']`).getBoundingClientRect();
    return {canvas: [c.left, c.right], node: [n.left, n.right], right_gap: c.right - n.right, scrolled: d.scrollLeft};
}"""


def _geometry(page, key: str) -> dict:
    """Where the step's card is across the canvas (and how far from its right edge)."""
    return page.evaluate(GEOMETRY, key)


def _wait_in_canvas(page, key: str) -> None:
    for _ in range(50):
        if _in_canvas(page, key):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{key} is not in the canvas: {_geometry(page, key)}")


def _open(s, slug: str, first: str = "s1") -> None:
    s.goto(f"/t/acme/circuits/{slug}/edit")
    expect(node_el(s.page, first)).to_be_visible()
    s.page.wait_for_function("document.querySelectorAll('#minimap .mm-nodes rect').length > 0")


def _drawn_keys(page) -> list[str]:
    return page.evaluate("window.circuitBuilder.currentDoc().nodes.map((n) => n.key)")


def _saved(circuit) -> dict:
    return version_document(current_version(circuit))


def test_a_click_or_a_drag_on_the_minimap_moves_the_canvas_there(world, browser_session):
    _row_circuit(world, "long-row")
    s = browser_session(world.editor)
    page = s.page
    _open(s, "long-row")
    minimap = page.locator("#minimap")
    expect(minimap.locator(".mm-nodes rect")).to_have_count(7)  # the trigger and six steps
    assert not _in_canvas(page, "s6")  # too wide to show whole at a readable zoom

    # A click on the last step's mark brings it into the middle of the canvas.
    mark = minimap.locator(".mm-nodes rect[data-key='s6']").bounding_box()
    page.mouse.click(mark["x"] + mark["width"] / 2, mark["y"] + mark["height"] / 2)
    _wait_in_canvas(page, "s6")
    assert not _in_canvas(page, "s1")

    # Dragging on the map pans along with the pointer, back to the first step.
    start = minimap.locator(".mm-nodes rect[data-key='s6']").bounding_box()
    end = minimap.locator(".mm-nodes rect[data-key='s1']").bounding_box()
    page.mouse.move(start["x"] + 2, start["y"] + 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=6)
    page.mouse.up()
    assert _in_canvas(page, "s1") and not _in_canvas(page, "s6")
    # The map's frame shows the part the canvas shows: over s1's mark now.
    frame = minimap.locator(".mm-view").bounding_box()
    s1 = minimap.locator(".mm-nodes rect[data-key='s1']").bounding_box()
    assert frame["x"] <= s1["x"] and frame["x"] + frame["width"] >= s1["x"] + s1["width"]
    assert s.console_errors == [], s.console_errors


def _box_select(page, keys_box: tuple[str, str]) -> None:
    """Shift + drag on the empty canvas from above-left of one step to below-right of another."""
    first = node_el(page, keys_box[0]).bounding_box()
    last = node_el(page, keys_box[1]).bounding_box()
    page.keyboard.down("Shift")
    page.mouse.move(first["x"] - 15, first["y"] - 15)
    page.mouse.down()
    page.mouse.move(last["x"] + last["width"] + 10, last["y"] + last["height"] + 15, steps=8)
    page.mouse.up()
    page.keyboard.up("Shift")


def test_shift_dragging_selects_the_steps_inside_and_moving_deleting_and_one_undo_act_on_all(world, browser_session):
    steps = [
        node("a", "util.log", {"message": "a"}, position={"x": 300, "y": 100}),
        node("b", "util.log", {"message": "b"}, position={"x": 300, "y": 260}),
        node("c", "util.log", {"message": "c"}, position={"x": 640, "y": 100}),
    ]
    circuit = build(world, "boxes", steps, [*chain("a", "c"), {"source": "a", "port": "next", "target": "b"}], publish=False)
    s = browser_session(world.editor)
    page = s.page
    _open(s, "boxes", "a")
    page.wait_for_timeout(200)  # the fit on open runs on the next frame

    _box_select(page, ("a", "b"))
    expect(page.locator(".drawflow-node.is-multi-selected")).to_have_count(2)
    expect(node_el(page, "a")).to_have_class(re.compile("is-multi-selected"))
    expect(node_el(page, "b")).to_have_class(re.compile("is-multi-selected"))
    expect(node_el(page, "c")).not_to_have_class(re.compile("is-multi-selected"))
    # Shift + click adds a step to the selection and takes it out again.
    node_el(page, "c").click(modifiers=["Shift"])
    expect(page.locator(".drawflow-node.is-multi-selected")).to_have_count(3)
    node_el(page, "c").click(modifiers=["Shift"])
    expect(page.locator(".drawflow-node.is-multi-selected")).to_have_count(2)
    expect(node_el(page, "c")).not_to_have_class(re.compile("is-multi-selected"))

    # Dragging one of them moves both by the same amount, recorded as one change.
    before = {k: node_el(page, k).bounding_box() for k in "abc"}
    grab = before["a"]
    page.mouse.move(grab["x"] + 60, grab["y"] + 30)
    page.mouse.down()
    page.mouse.move(grab["x"] + 60, grab["y"] + 130, steps=8)
    page.mouse.up()
    after = {k: node_el(page, k).bounding_box() for k in "abc"}
    assert after["a"]["y"] - before["a"]["y"] > 60
    assert abs((after["b"]["y"] - before["b"]["y"]) - (after["a"]["y"] - before["a"]["y"])) < 2
    assert after["c"] == before["c"]
    wait_saved(page)
    moved = {n["key"]: n["position"]["y"] for n in _saved(circuit)["nodes"]}
    assert moved["a"] > 100 and moved["b"] > 260 and moved["c"] == 100

    # Delete removes both (with their connections); one undo brings both back, with them.
    page.keyboard.press("Delete")
    expect(node_el(page, "a")).to_have_count(0)
    expect(node_el(page, "b")).to_have_count(0)
    expect(node_el(page, "c")).to_be_visible()
    wait_saved(page)
    assert [n["key"] for n in _saved(circuit)["nodes"]] == ["c"]
    page.keyboard.press("Control+z")
    expect(node_el(page, "a")).to_be_visible()
    expect(node_el(page, "b")).to_be_visible()
    edges = page.evaluate("window.circuitBuilder.currentDoc().edges.map((e) => e.source + '>' + e.target)")
    assert {"trigger>a", "a>b", "a>c"} <= set(edges)
    page.keyboard.press("Control+z")  # the move before it, undone by the next press
    expect(node_el(page, "a")).to_have_css("top", "100px")
    expect(node_el(page, "b")).to_have_css("top", "260px")
    wait_saved(page)
    saved = _saved(circuit)
    assert {n["key"]: n["position"]["y"] for n in saved["nodes"]} == {"a": 100, "b": 260, "c": 100}
    assert {(e["source"], e["target"]) for e in saved["edges"]} == {("trigger", "a"), ("a", "c"), ("a", "b")}
    assert s.console_errors == [], s.console_errors


def _clipboard_text(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def _put_on_clipboard(page, text: str) -> None:
    page.evaluate("(text) => navigator.clipboard.writeText(text)", text)


def test_copied_steps_paste_as_json_into_this_and_another_circuit_with_their_connections_and_unique_keys(world, browser_session):
    steps = [
        node("fetch", "util.log", {"message": "fetch"}, position={"x": 300, "y": 100}),
        node("shape", "util.transform", {"template": "{{ trigger }}"}, position={"x": 600, "y": 100}),
    ]
    source = build(world, "source", steps, chain("fetch", "shape"), publish=False)
    other = build(world, "other", [node("fetch", "util.log", {"message": "mine"}, position={"x": 300, "y": 100})], chain("fetch"), publish=True)
    s = browser_session(world.editor)
    s.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = s.page
    _open(s, "source", "fetch")
    page.wait_for_timeout(200)

    _box_select(page, ("fetch", "shape"))
    expect(page.locator(".drawflow-node.is-multi-selected")).to_have_count(2)
    page.keyboard.press("Control+c")
    expect(page.locator("#flash")).to_contain_text("Copied 2 step(s) and 1 connection(s)")
    clip = json.loads(_clipboard_text(page))
    assert clip["format"] == "circuitos.steps/v1"
    assert [n["key"] for n in clip["nodes"]] == ["fetch", "shape"]
    assert clip["edges"] == [{"source": "fetch", "port": "next", "target": "shape"}]  # not the trigger's edge

    # Pasted here: new keys, the connection between them kept, placed where nothing is.
    page.keyboard.press("Control+v")
    expect(page.locator("#flash")).to_contain_text("Pasted 2 step(s) and 1 connection(s)")
    expect(node_el(page, "fetch_1")).to_be_visible()
    expect(node_el(page, "shape_1")).to_be_visible()
    boxes = {k: node_el(page, k).bounding_box() for k in ("fetch", "shape", "fetch_1", "shape_1")}
    for new in ("fetch_1", "shape_1"):
        for old in ("fetch", "shape"):
            a, b = boxes[new], boxes[old]
            assert a["y"] >= b["y"] + b["height"] or a["x"] >= b["x"] + b["width"] or b["x"] >= a["x"] + a["width"], (new, old)
    wait_saved(page)
    saved = _saved(source)
    assert [n["key"] for n in saved["nodes"]] == ["fetch", "shape", "fetch_1", "shape_1"]
    assert ("fetch_1", "next", "shape_1") in {(e["source"], e["port"], e["target"]) for e in saved["edges"]}
    assert {n["key"]: n["config"] for n in saved["nodes"]}["shape_1"] == {"template": "{{ trigger }}"}
    # One undo takes the whole paste away.
    page.keyboard.press("Control+z")
    expect(node_el(page, "fetch_1")).to_have_count(0)
    expect(node_el(page, "shape_1")).to_have_count(0)
    wait_saved(page)

    # Into another circuit (another page): its own "fetch" stays, the pasted one is renamed.
    _open(s, "other", "fetch")
    node_el(page, "fetch").click()
    page.locator("#drawflow").focus()
    page.keyboard.press("Control+v")
    expect(page.locator("#flash")).to_contain_text("renamed fetch → fetch_1")
    expect(node_el(page, "shape")).to_be_visible()
    wait_saved(page)
    draft = other.versions.get(status=VersionStatus.DRAFT)
    saved = version_document(draft)
    assert [n["key"] for n in saved["nodes"]] == ["fetch", "fetch_1", "shape"]
    assert {n["key"]: n["config"] for n in saved["nodes"]}["fetch"] == {"message": "mine"}
    assert ("fetch_1", "next", "shape") in {(e["source"], e["port"], e["target"]) for e in saved["edges"]}
    assert s.console_errors == [], s.console_errors


def test_pasting_foreign_or_malformed_json_or_an_unknown_action_changes_nothing_and_says_why(world, browser_session):
    circuit = build(world, "guarded", [node("hello", "util.log", {"message": "hi"}, position={"x": 300, "y": 100})], chain("hello"), publish=False)
    s = browser_session(world.editor)
    s.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = s.page
    _open(s, "guarded", "hello")
    before = _saved(circuit)
    page.locator("#drawflow").focus()

    cases = [
        ("not json at all {", "it is not JSON"),
        (json.dumps({"name": "a shopping list", "items": ["milk"]}), "not Circuit OS steps"),
        (json.dumps({"format": "circuitos.steps/v1", "nodes": [{"label": "no key"}], "edges": []}), "malformed steps in the clipboard (nodes/0"),
        (json.dumps({"format": "circuitos.steps/v1", "nodes": [{"key": "x", "action": "util.log", "retry": "often"}], "edges": []}), "retry"),
        (json.dumps({"format": "circuitos.steps/v1", "nodes": [{"key": "mystery", "action": "util.teleport"}], "edges": []}), "unknown action 'util.teleport'"),
    ]
    for text, message in cases:
        _put_on_clipboard(page, text)
        page.keyboard.press("Control+v")
        expect(page.locator("#flash")).to_contain_text("Nothing pasted")
        expect(page.locator("#flash")).to_contain_text(message)
        expect(page.locator("#flash")).to_have_class(re.compile("banner-bad"))
        assert _drawn_keys(page) == ["hello"], text
        page.evaluate("document.getElementById('flash').hidden = true; document.getElementById('flash').textContent = ''")
    expect(page.locator("#save-state")).to_have_text("All changes saved")
    expect(page.locator("#btn-undo")).to_be_disabled()
    assert _saved(circuit) == before
    # The one refused request is the server's answer to the malformed step (a 400, expected).
    assert [e for e in s.console_errors if "400 (Bad Request)" not in e or "/draft/validate" not in e] == [], s.console_errors
    assert sum("/draft/validate" in r and r.startswith("400") for r in s.failed_requests) == 1, s.failed_requests


def test_node_cards_show_their_action_familys_icon_beside_the_whole_category_badge(world, browser_session):
    steps = [
        node("ask", "web.http_request", {"url": "http://127.0.0.1:9/x"}, position={"x": 300, "y": 100}),
        node("check", "control.if", {"condition": "{{ true }}"}, position={"x": 600, "y": 100}),
        node("say", "util.log", {"message": "hi"}, position={"x": 900, "y": 100}),
    ]
    edges = [*chain("ask"), {"source": "ask", "port": "next", "target": "check"}, {"source": "check", "port": "true", "target": "say"}]
    circuit = build(world, "families", steps, edges, publish=True)
    s = browser_session(world.editor)
    page = s.page
    _open(s, "families", "ask")
    families = {k: node_el(page, k).locator(".node-icon").get_attribute("data-family") for k in ("trigger", "ask", "check", "say")}
    assert families == {"trigger": "trigger", "ask": "web", "check": "flow", "say": "utility"}
    for key in families:
        icon = node_el(page, key).locator(".node-icon svg").bounding_box()
        badge = node_el(page, key).locator(".cat")
        box = badge.bounding_box()
        assert icon["width"] >= 12 and icon["x"] + icon["width"] <= box["x"], key  # beside, not over it
        assert badge.evaluate("(el) => el.scrollWidth <= el.clientWidth"), key  # the badge's whole text shows

    # The execution page draws the same icons (graph.js).
    execution = run(circuit, {})
    s.goto(f"/t/acme/executions/{execution.pk}/")
    graph = page.locator("#execution-graph")
    expect(graph.locator(".drawflow-node[data-key='ask'] .node-icon")).to_have_attribute("data-family", "web")
    expect(graph.locator(".drawflow-node[data-key='check'] .node-icon")).to_have_attribute("data-family", "flow")
    assert s.console_errors == [], s.console_errors


def test_pinned_data_typed_by_hand_is_checked_as_json_and_saved_on_the_step(world, browser_session):
    circuit = build(world, "by-hand", [node("lookup", "util.log", {"message": "hi"}, position={"x": 300, "y": 100})], chain("lookup"), publish=False)
    s = browser_session(world.editor)
    page = s.page
    _open(s, "by-hand", "lookup")
    open_step(page, "lookup")
    page.locator("#pin-editor summary").click()
    page.fill("#pin-json", '{"score": 91, "tier": }')
    page.click("#pin-save")
    expect(page.locator("#pin-errors")).to_contain_text("Not pinned: the output is not valid JSON")
    expect(page.locator("#pin-json")).to_have_attribute("aria-invalid", "true")
    expect(node_el(page, "lookup").locator(".node-pin")).to_have_count(0)
    expect(page.locator("#save-state")).to_have_text("All changes saved")
    assert "pinned" not in _saved(circuit)["nodes"][0]

    page.fill("#pin-json", '{"score": 91, "tier": "gold"}')
    page.click("#pin-save")
    expect(node_el(page, "lookup").locator(".node-pin")).to_have_text("pinned")
    expect(page.locator("#step-data .nv-pinned")).to_contain_text('"tier": "gold"')
    wait_saved(page)
    assert _saved(circuit)["nodes"][0]["pinned"] == {"output": {"score": 91, "tier": "gold"}, "port": "next"}
    # The editor shows what is pinned; Unpin takes it off again.
    expect(page.locator("#pin-json")).to_have_value(re.compile('"tier": "gold"'))
    page.click("#pin-clear")
    expect(node_el(page, "lookup").locator(".node-pin")).to_have_count(0)
    wait_saved(page)
    assert "pinned" not in _saved(circuit)["nodes"][0]
    assert s.console_errors == [], s.console_errors


@pytest.mark.parametrize("width", [1280, 390])
def test_the_selected_step_stays_in_view_when_the_node_view_opens(world, browser_session, width):
    _row_circuit(world, "in-view", count=4)
    s = browser_session(world.editor, width=width, height=800)
    page = s.page
    _open(s, "in-view")
    page.wait_for_timeout(200)
    # A test run, so that selecting a step opens the wide node view (form and data side by side).
    page.click("#btn-test")
    page.fill("#test-payload", "{}")
    page.click("#test-start")
    expect(node_el(page, "s4")).to_have_class(re.compile("run-succeeded"), timeout=20_000)
    expect(page.locator("#panel-run [data-goto='s4']")).to_be_visible()
    if width >= 760:
        # The last step just inside the canvas' right edge; opening it widens the panel and
        # narrows the canvas, which would hide it.
        page.evaluate(
            """() => {
                const ed = window.circuitBuilder.editor;
                const c = document.getElementById('drawflow').getBoundingClientRect();
                const n = document.querySelector(`.drawflow-node[data-key='s4']`).getBoundingClientRect();
                ed.canvas_x += (c.right - 30) - n.right;
                ed.canvas_y += (c.top + c.height / 2) - (n.top + n.height / 2);
                ed.precanvas.style.transform = `translate(${ed.canvas_x}px, ${ed.canvas_y}px) scale(${ed.zoom})`;
            }"""
        )
        assert _in_canvas(page, "s4")
        node_el(page, "s4").click()
    else:
        # On a phone the panel is below the canvas: a step chosen from the run's list is off
        # to the right of the narrow canvas.
        assert not _in_canvas(page, "s4")
        page.locator("#panel-run [data-goto='s4']").click()
    page.locator("#tab-step").click()
    expect(page.locator("#step-data")).to_be_visible()
    _wait_in_canvas(page, "s4")
    # Panned no further than needed: the step sits near the right edge, not in the middle.
    where = _geometry(page, "s4")
    assert where["right_gap"] <= 40 and where["scrolled"] == 0, where
    # The click that opened the node view ended there: the step does not follow the mouse.
    placed = node_el(page, "s4").bounding_box()
    canvas = page.locator("#drawflow").bounding_box()
    page.mouse.move(canvas["x"] + 60, canvas["y"] + 60)
    page.mouse.move(canvas["x"] + 120, canvas["y"] + 90, steps=4)
    assert node_el(page, "s4").bounding_box() == placed
    assert s.console_errors == [], s.console_errors


def test_a_port_label_is_drawn_above_the_step_placed_over_it(world, browser_session):
    steps = [
        node("a", "util.log", {"message": "a"}, position={"x": 300, "y": 100}),
        node("b", "util.log", {"message": "b"}, position={"x": 545, "y": 100}),  # its card over a's "next" label
    ]
    build(world, "crowded", steps, chain("a", "b"), publish=False)
    s = browser_session(world.editor)
    page = s.page
    _open(s, "crowded", "a")
    # What is on top at the middle of a's "next" label (the label takes no pointer events in
    # the page; here it does, so that elementFromPoint finds it when it is on top).
    page.add_style_tag(content=".drawflow .drawflow-node .output::after { pointer-events: auto !important; }")
    on_top = page.evaluate(
        """() => {
            const port = document.querySelector(`.drawflow-node[data-key='a'] .outputs .output_1`);
            const r = port.getBoundingClientRect();
            const label = getComputedStyle(port, '::after');
            const z = window.circuitBuilder.editor.zoom;
            const x = r.left + (parseFloat(label.left) + parseFloat(label.width) / 2) * z;
            const y = r.top + (parseFloat(label.top) + parseFloat(label.height) / 2) * z;
            const hit = document.elementFromPoint(x, y);
            return {port: hit === port, label: getComputedStyle(port, '::after').content, under: hit && (hit.closest('.drawflow-node') || hit).dataset.key};
        }"""
    )
    assert on_top["label"] == '"next"' and on_top["port"], on_top
    # Connections are drawn below the steps and still take a click (the trigger's one to a).
    trigger_edge = page.locator(f"#drawflow .connection.node_in_{node_el(page, 'a').get_attribute('id')} .main-path").first
    box = trigger_edge.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(trigger_edge).to_have_class(re.compile("selected"))
    assert s.console_errors == [], s.console_errors
