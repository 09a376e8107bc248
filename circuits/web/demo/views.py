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


def news_feed(request: HttpRequest) -> HttpResponse:
    _enabled()
    now = timezone.now()
    items = [
        ("Globex launches an AI sales assistant", "globex-ai", "Globex Corporation announced an AI assistant that scores leads.", now - timedelta(hours=3)),
        ("Initech cuts prices on its CRM", "initech-prices", "Initech lowers the price of its CRM by 20% for small teams.", now - timedelta(hours=20)),
        ("Globex opens a European office", "globex-europe", "Globex expands to Berlin with 50 new hires.", now - timedelta(days=2)),
        ("Acme named a leader in automation", "acme-leader", "Analysts rank Acme Corporation first in business automation.", now - timedelta(days=3)),
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
