"""Pages outside the builder, in a real browser (issue #13): the Enabled switch on the circuits
list, and counts that follow what really happened."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from circuits.automation.models.circuit import Circuit
from tests.engine.helpers import build, chain, node

pytestmark = pytest.mark.browser


def test_the_enabled_switch_turns_a_circuit_off_and_on_and_a_viewer_can_flip_it_neither_in_the_page_nor_by_hand(world, browser_session):
    circuit = build(world, "switchable", [node("hello", "util.log", {"message": "hi"})], chain("hello"))
    s = browser_session(world.operator)
    page = s.page
    s.goto("/t/acme/circuits/")
    row = page.locator(f"#circuit-{circuit.pk}")
    row.locator("input[name=enabled]").uncheck()
    expect(page.locator(f"#circuit-{circuit.pk} .switch")).to_contain_text("off")
    assert Circuit.objects.get(pk=circuit.pk).enabled is False
    page.locator(f"#circuit-{circuit.pk} input[name=enabled]").check()
    expect(page.locator(f"#circuit-{circuit.pk} .switch")).to_contain_text("on")
    assert Circuit.objects.get(pk=circuit.pk).enabled is True
    assert s.console_errors == [], s.console_errors

    viewer = browser_session(world.viewer)
    viewer.goto("/t/acme/circuits/")
    expect(viewer.page.locator(f"#circuit-{circuit.pk} input[name=enabled]")).to_be_disabled()
    status = viewer.page.evaluate(
        """async (slug) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const r = await fetch(`/t/acme/circuits/${slug}/toggle`, {method: 'POST', headers: {'X-CSRFToken': token, 'HX-Request': 'true'},
                                                                        body: new URLSearchParams({})});
            return r.status;
        }""",
        circuit.slug,
    )
    assert status == 403
    assert Circuit.objects.get(pk=circuit.pk).enabled is True
