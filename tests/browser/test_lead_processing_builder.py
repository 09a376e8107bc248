"""Lead Processing AI run from the builder in a real browser: every step of the demo's flagship
circuit turns green live, and each one's output — the lead, its company's site, the news, the
tenant's documents, the model's score, the graph's competitors, the opportunity, the Slack post —
is on the page when the step is selected."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from circuits.automation.models.execution import Execution
from circuits.records.models import Record
from circuits.records.query import record_to_dict
from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.web.api.views.demo import SAMPLE_LEAD
from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser

# What each step's run data shows for the sample lead (Ada Lovelace, VP of Sales at Initech).
SHOWS = {
    "lead": "ada@initech.example",
    "site": "Rotterdam",
    "news": "Initech cuts prices on its CRM",
    "intel": "Initech — account brief",
    "score": "source is referral",
    "competitors": "Soylent Data",
    "hot": '"result": true',
    "opportunity": "Initech — Ada Lovelace",
    "qualify": '"status": "qualified"',
    "slack": '"ok": true',
}


def test_lead_processing_ai_runs_from_the_builder_and_shows_each_steps_output(browser_session, asgi_server, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", base_url=asgi_server.url, stdout=open("/dev/null", "w"))  # noqa: SIM115
    tenant = Tenant.objects.get(slug="acme")
    editor = Membership.objects.get(tenant=tenant, role="editor").user
    editor.set_password(PASSWORD)
    editor.save()
    # A lead as the trigger would carry it (written directly: no circuit starts on its own).
    lead = Record.objects.create(tenant=tenant, object_type="lead", data={**SAMPLE_LEAD, "status": "new"})

    s = browser_session(editor, width=1600, height=900)
    page = s.page
    s.goto("/t/acme/circuits/lead-processing-ai/edit")
    page.click("#btn-test")
    page.fill("#test-payload", json.dumps({"record": record_to_dict(lead)}))
    page.click("#test-start")
    for key in SHOWS:
        expect(page.locator(f".drawflow-node[data-key='{key}']")).to_have_class(re.compile(r"run-succeeded"), timeout=60_000)
    expect(page.locator(".drawflow-node[data-key='nurture']")).not_to_have_class(re.compile(r"run-succeeded"))
    execution = Execution.objects.get(circuit__slug="lead-processing-ai", is_test=True)
    assert execution.status == "succeeded", execution.error

    for key, text in SHOWS.items():
        # The node view keeps the selected step in view by panning as little as it can, so the
        # next step may sit under the palette: fit the graph first, as a user would.
        page.click("#btn-fit")
        page.locator(f".drawflow-node[data-key='{key}']").click()
        page.click("#tab-run")
        expect(page.locator("#panel-run .step-output")).to_contain_text(text)
    page.click("#btn-fit")
    s.screenshot("lead-processing-ai", copy_to_docs=True)
    assert s.console_errors == [], s.console_errors
