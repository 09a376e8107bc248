"""Where a client finds what it started (the answer's `url` and `Location` header)."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse


def execution_url(request: HttpRequest, execution_id: int) -> str:
    """The execution's absolute address in the REST API (GET it with an API key of the tenant)."""
    return request.build_absolute_uri(reverse("api:execution", kwargs={"id": execution_id}))
