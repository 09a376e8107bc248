"""The knowledge graph's entity page draws the neighbourhood with Cytoscape.js (from npm) in a
real browser, and a click on a neighbour opens that entity's page (#12)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from intelligence.graph.services import UpsertEntity, UpsertRelation

pytestmark = pytest.mark.browser


def test_an_entitys_page_draws_its_relations_and_a_click_on_a_neighbour_opens_it(browser_session, world):
    acme, _ = UpsertEntity(world.tenant, world.editor, kind="company", name="Acme Sensors").execute()
    rival, _ = UpsertEntity(world.tenant, world.editor, kind="company", name="Globex Instruments").execute()
    UpsertRelation(world.tenant, world.editor, source=acme, target=rival, type="competes_with").execute()
    s = browser_session(world.viewer)
    s.goto(f"/t/acme/graph/{acme.pk}")
    canvas = s.page.locator("#graph-canvas canvas").first
    expect(canvas).to_be_visible()
    # Cytoscape.js holds the drawn elements: the two companies and the edge between them.
    drawn = s.page.evaluate(
        "() => { const cy = document.getElementById('graph-canvas').cy;"
        " return {nodes: cy.nodes().map(n => n.data('label')).sort(), edges: cy.edges().map(e => e.data('label'))}; }"
    )
    assert drawn == {"nodes": ["Acme Sensors", "Globex Instruments"], "edges": ["competes_with"]}
    box = s.page.locator("#graph-canvas").bounding_box()
    assert box and box["height"] >= 400
    s.screenshot("graph-entity")
    # A tap on the neighbour in the drawing opens its page.
    s.page.evaluate(f"() => document.getElementById('graph-canvas').cy.getElementById('{rival.pk}').emit('tap')")
    expect(s.page).to_have_url(re.compile(rf"/t/acme/graph/{rival.pk}$"))
    assert s.console_errors == []
