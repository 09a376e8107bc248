"""Per request: an id, the log context, and the request series of /metrics.

The request id is the caller's `X-Request-ID` when it is a plain token of at most 64
characters (a proxy or load balancer that sets one keeps its id end to end), else a new one;
it is answered in `X-Request-ID` and bound to every log line of the request and of the Celery
tasks it enqueues. The request series are labelled by URL pattern name (`route`), never by
path, so their label sets stay bounded whatever URLs are asked for.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from circuits.core import logs, metrics, tracing
from circuits.tenancy import audit

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNMATCHED = "unmatched"


def request_id_for(request: HttpRequest) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _ACCEPTED_ID.match(given) else uuid.uuid4().hex


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request.request_id = request_id_for(request)
        logs.clear()
        audit.acting_through(None)  # threads serve many requests: no key carries over
        logs.bind(request_id=request.request_id)
        # With tracing on (circuits/core/tracing.py) the request's span is the root of the
        # trace its tasks and steps join; its ids come from logs.bind like the log lines'.
        with tracing.server_span(request.method or "GET", request.headers) as span:
            try:
                tracing.annotate(request_id=request.request_id)
                response = self.get_response(request)
            finally:
                route = self._finish(request, started)
            tracing.name_request(span, metrics.method_label(request.method), route, response.status_code)
        metrics.REQUESTS.labels(route=route, method=metrics.method_label(request.method), status=str(response.status_code)).inc()
        response[REQUEST_ID_HEADER] = request.request_id
        return response

    @staticmethod
    def _finish(request: HttpRequest, started: float) -> str:
        # Nothing of this request stays bound to the thread (the next work it does is someone else's).
        audit.acting_through(None)
        logs.clear()
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or UNMATCHED) if match is not None else UNMATCHED
        metrics.REQUEST_SECONDS.labels(route=route, method=metrics.method_label(request.method)).observe(time.perf_counter() - started)
        return route

    def process_view(self, request: HttpRequest, _view, _args, kwargs) -> None:
        match = request.resolver_match
        logs.bind(route=match.view_name if match else None, tenant=kwargs.get("tenant_slug"))
