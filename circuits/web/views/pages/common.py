"""Helpers shared by the monitoring and admin pages (executions, records, events, settings)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.core import strict_json
from circuits.tenancy.models.tenants import Tenant
from circuits.tenancy.permissions import has_perm

PAGE_SIZE = 50


def format_ms(ms: float | None) -> str:
    """A duration as people read it: "850 ms", "2.4 s", "3 min 05 s"."""
    if ms is None:
        return "—"
    if ms == 0:
        return "0 ms"
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def pretty_json(value: Any) -> str:
    """JSON for a <pre>: indented, non-ASCII kept readable, anything odd shown as text."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def visible_executions(request: HttpRequest, tenant: Tenant) -> QuerySet:
    """The tenant's executions of the circuits this user may see.

    Every role holds "view", so the circuit subquery only appears for a member whose view
    rights would come from object grants alone; the common case stays one indexed query.
    """
    qs = Execution.objects.for_tenant(tenant)
    if not has_perm(request.user, tenant, "view"):
        qs = qs.filter(circuit__in=Circuit.objects.restrict(request.user, "view", tenant))
    return qs


def paginate(request: HttpRequest, items, per_page: int = PAGE_SIZE) -> Page:
    """The requested page; a missing, bad or too-high page number gives the nearest page."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def query_without(request: HttpRequest, *drop: str) -> str:
    """The current query string minus some keys (to build pager links that keep the filters)."""
    pairs = [(k, v) for k in request.GET for v in request.GET.getlist(k) if k not in drop]
    return urlencode(pairs)


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The `next` URL if it points at this site, else `fallback` (no open redirects)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def parse_json_object(text: str, field: str, *, max_bytes: int = 1_000_000) -> dict:
    """A JSON object typed into a textarea; ValidationError naming `field` otherwise."""
    text = (text or "").strip()
    if not text:
        return {}
    if len(text.encode()) > max_bytes:
        raise ValidationError({field: f"The JSON is larger than {max_bytes:,} bytes."})
    try:
        value = strict_json.loads(text)
    except strict_json.JSONRefused as exc:
        raise ValidationError({field: f"Not valid JSON: {exc.detail}"}) from None
    if not isinstance(value, dict):
        raise ValidationError({field: "Give a JSON object ({…}), not a list or a single value."})
    return value
