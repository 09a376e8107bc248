"""The demo's local outside world: a competitor's web page, a news feed, a webhook inbox.

They stand in for the internet (which a laptop demo may not have) and for Slack, so the
example circuits run end to end offline. Served only when settings.DEMO_ENDPOINTS is on.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from circuits.core import strict_json
from circuits.tenancy.models.notifications import InboxMessage
from circuits.tenancy.models.tenants import Tenant
from circuits.tenancy.resolve import addressed_tenant
from circuits.web.views.base import TenantView, render_page


def _enabled() -> None:
    if not settings.DEMO_ENDPOINTS:
        raise Http404("Demo endpoints are off.")


def competitor_site(request: HttpRequest) -> HttpResponse:
    _enabled()
    return render(request, "demo/competitor.html")


# The prospects' own sites (what Lead Processing AI scrapes): the companies of the demo's leads
# and graph. Keyed by the slug a circuit builds from a lead's company ("Umbrella Analytics" →
# umbrella-analytics); any other company has no site here (404), as on the internet.
COMPANY_SITES = {
    "initech": {
        "name": "Initech",
        "tagline": "Billing and reporting software for manufacturers",
        "about": [
            "Initech builds billing and reporting software for mid-sized manufacturers across the Benelux.",
            "We are 400 people in Rotterdam and Antwerp, and we are hiring sales development representatives.",
        ],
        "facts": {"Employees": "400", "Headquarters": "Rotterdam", "Founded": "2009"},
    },
    "hooli": {
        "name": "Hooli",
        "tagline": "Sales automation for the mid-market",
        "about": [
            "Hooli helps mid-market sales teams route and follow up every lead automatically.",
            "After our Series C we are doubling the sales team in Munich and Vienna.",
        ],
        "facts": {"Employees": "900", "Headquarters": "Munich", "Founded": "2015"},
    },
    "umbrella-analytics": {
        "name": "Umbrella Analytics",
        "tagline": "Retail forecasting on large language models",
        "about": ["Umbrella Analytics forecasts demand for Nordic retailers with models that explain every number."],
        "facts": {"Employees": "150", "Headquarters": "Stockholm", "Founded": "2019"},
    },
    "soylent-data": {
        "name": "Soylent Data",
        "tagline": "The CRM for small teams",
        "about": ["Soylent Data is a simple CRM for teams of up to 20 people, with a free plan."],
        "facts": {"Employees": "60", "Headquarters": "Utrecht", "Founded": "2017"},
    },
}


def company_site(request: HttpRequest, slug: str) -> HttpResponse:
    _enabled()
    company = COMPANY_SITES.get(slug)
    if company is None:
        raise Http404("No such company site in the demo.")
    return render(request, "demo/company.html", {"company": company, "slug": slug})


def news_feed(request: HttpRequest) -> HttpResponse:
    _enabled()
    now = timezone.now()
    items = [
        ("Globex launches an AI sales assistant", "globex-ai", "Globex Corporation announced an AI assistant that scores leads.", now - timedelta(hours=3)),
        ("Initech cuts prices on its CRM", "initech-prices", "Initech lowers the price of its CRM by 20% for small teams.", now - timedelta(hours=20)),
        ("Globex opens a European office", "globex-europe", "Globex expands to Berlin with 50 new hires.", now - timedelta(days=2)),
        ("Acme named a leader in automation", "acme-leader", "Analysts rank Acme Corporation first in business automation.", now - timedelta(days=3)),
        (
            "Initech wins a manufacturing award",
            "initech-award",
            "Benelux manufacturers name Initech's billing software best in class.",
            now - timedelta(days=4),
        ),
        ("Hooli raises a Series C to double its sales team", "hooli-series-c", "Hooli hires 200 sellers in Munich.", now - timedelta(days=5)),
        ("Umbrella Analytics explains its forecasts", "umbrella-explains", "Umbrella Analytics adds reasons to forecasts.", now - timedelta(days=6)),
    ]
    base = request.build_absolute_uri("/demo/site/")
    response = render(request, "demo/news.xml", {"items": items, "base": base, "now": now}, content_type="application/rss+xml; charset=utf-8")
    return response


@csrf_exempt
@require_POST
def inbox_receive(request: HttpRequest, tenant_slug: str, channel: str) -> HttpResponse:
    """Accepts what a Slack incoming webhook accepts and answers like Slack ("ok")."""
    _enabled()
    tenant = addressed_tenant(tenant_slug)
    if len(request.body) > 100_000:
        return HttpResponse("payload too large", status=413)
    try:
        body = strict_json.loads(request.body or b"{}")
    except strict_json.JSONRefused:
        return HttpResponse("invalid_payload", status=400)
    if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
        return HttpResponse("no_text", status=400)
    InboxMessage.objects.create(tenant=tenant, channel=channel[:100], body=body)
    return HttpResponse("ok", content_type="text/plain")


class InboxView(TenantView):
    """What the demo's "Slack" received, newest first."""

    def get(self, request):
        _enabled()
        messages = InboxMessage.objects.for_tenant(self.tenant)[:100]
        return render_page(request, "demo/inbox.html", {"inbox": messages}, partial="demo/inbox_rows.html")


def inbox_url(tenant: Tenant, channel: str, base_url: str | None = None) -> str:
    return f"{(base_url or settings.DEMO_BASE_URL).rstrip('/')}/demo/inbox/{tenant.slug}/{channel}"
