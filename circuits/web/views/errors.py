"""Error pages that keep the layout (403 shows *why*) and answer JSON to API clients."""

from django.http import JsonResponse
from django.shortcuts import render


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def _problem(status: int, title: str, detail: str) -> JsonResponse:
    # RFC 9457, like every error of the REST API.
    return JsonResponse({"type": "about:blank", "title": title, "status": status, "detail": detail}, status=status, content_type="application/problem+json")


def permission_denied(request, exception=None):
    detail = str(exception) if exception and str(exception) else "You do not have permission to do this."
    if _wants_json(request):
        return _problem(403, "Forbidden", detail)
    return render(request, "403.html", {"detail": detail}, status=403)


def page_not_found(request, exception=None):
    if _wants_json(request):
        return _problem(404, "Not Found", "Not found.")
    return render(request, "404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return _problem(500, "Server Error", "Something went wrong on our side.")
    return render(request, "500.html", status=500)
