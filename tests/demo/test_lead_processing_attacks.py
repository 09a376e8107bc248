"""What a stranger who can only create a lead (a web form, an import) can make the demo's Lead
Processing AI do: its company becomes part of the scrape URL on the app's own allow-listed
host, so it must stay a single path segment under /demo/companies/."""

from __future__ import annotations

import httpx
import pytest

from circuits.automation.engine.expressions import render_value
from circuits.web.demo.examples import lead_processing_ai

BASE = "http://127.0.0.1:8000"


def site_url(company: str) -> str:
    config = {n["key"]: n["config"] for n in lead_processing_ai(BASE)["nodes"]}["site"]
    rendered = render_value(config["url"], {"steps": {"lead": {"output": {"company": company, "email": "a@b.example"}}}})
    return str(httpx.URL(rendered))  # as the scrape fetches it: dot segments removed


@pytest.mark.parametrize(
    "company",
    ["x/../../../metrics", "../../admin/", "..", ".", "x/../../api/v1/records", "a\\..\\..\\metrics", "%2e%2e/%2e%2e/metrics", "a?b#c", "{{ 7*7 }}"],
)
def test_a_lead_company_cannot_steer_the_demo_scrape_outside_the_company_sites(company):
    url = site_url(company)
    assert url.startswith(f"{BASE}/demo/companies/"), url
    segment = url.removeprefix(f"{BASE}/demo/companies/")
    assert segment.endswith("/") and "/" not in segment[:-1] and segment not in ("./", "../"), url


def test_the_known_companies_still_map_to_their_sites():
    assert site_url("Umbrella Analytics") == f"{BASE}/demo/companies/umbrella-analytics/"
    assert site_url("Initech") == f"{BASE}/demo/companies/initech/"
