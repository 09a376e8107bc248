"""The "on failure" pages in a real browser (#15): an owner sets a circuit's failure handling —
notify in the app and start an error circuit — the circuit fails, and the notification and the
error circuit's execution are there to see."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, ExecutionStatus
from tests.engine.helpers import build, chain, node
from tests.engine.workers import wait_for

pytestmark = pytest.mark.browser


def test_an_owner_sets_on_failure_in_the_page_and_sees_the_notification_and_the_error_circuits_run(browser_session, world):
    build(world, "on-error", [node("note", "util.transform", {"template": "handled {{ trigger.id }}"})], chain("note"))
    flaky = build(
        world,
        "flaky",
        [node("call_crm", "control.stop", {"status": "failed", "message": "the CRM said no"})],
        chain("call_crm"),
        triggers=[{"type": "webhook", "config": {}}],
    )
    s = browser_session(world.owner)
    s.goto("/t/acme/circuits/flaky/on-failure/")
    page = s.page
    page.get_by_label("Its own, below").check()
    page.get_by_label("The circuit's owner").check()
    page.get_by_label("Start the error circuit").select_option("on-error")
    page.get_by_label("Digest window (minutes)").fill("0")
    page.get_by_role("button", name="Save failure handling").click()
    expect(page.get_by_text("Failure handling of Flaky saved.")).to_be_visible()
    # The page shows what was saved, and the circuit holds it.
    expect(page.get_by_label("Its own, below")).to_be_checked()
    expect(page.get_by_label("Start the error circuit")).to_have_value("on-error")
    flaky.refresh_from_db()
    assert flaky.on_failure["notify"] == ["owner"] and flaky.on_failure["error_circuit"] == "on-error"

    # It fails (a webhook delivery; the server's worker runs it, a test run would not alert).
    token = flaky.triggers.get().webhook_token
    request = urllib.request.Request(f"{s.server.url}/hooks/{token}", data=json.dumps({"lead": 7}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:  # the loopback test server
        failed_id = json.loads(response.read())["execution_id"]
    handler = Circuit.objects.get(tenant=world.tenant, slug="on-error")
    handled = wait_for(
        lambda: Execution.objects.filter(circuit=handler, status=ExecutionStatus.SUCCEEDED).first(), timeout=60, what=f"the error circuit\n{s.server.log()}"
    )
    assert Execution.objects.get(pk=failed_id).status == ExecutionStatus.FAILED

    # The notification, in the page.
    s.goto("/t/acme/notifications/")
    notice = page.locator(".notif").filter(has_text="Flaky failed")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("the CRM said no")
    # The error circuit's execution, from its history to its page, with the failed one as its cause.
    s.goto("/t/acme/executions/?circuit=on-error")
    row_link = page.locator(f"a[href$='/executions/{handled.pk}/']").first
    expect(row_link).to_be_visible()
    row_link.click()
    expect(page).to_have_url(re.compile(rf"/executions/{handled.pk}/$"))
    expect(page.get_by_role("heading", name=f"Execution #{handled.pk}")).to_contain_text("Succeeded")
    s.screenshot("on-failure-error-circuit")
    cause = page.get_by_role("link", name=f"#{failed_id}", exact=True)  # Caused by: the failed execution
    expect(cause).to_be_visible()
    cause.click()
    expect(page.get_by_role("heading", name=f"Execution #{failed_id}")).to_contain_text("Failed")
    assert s.console_errors == []
