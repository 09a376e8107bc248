"""Error pages that keep the layout (403 shows *why*) and answer JSON to API clients."""

from django.http import JsonResponse
from django.shortcuts import render


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def permission_denied(request, exception=None):
    detail = str(exception) if exception and str(exception) else "You do not have permission to do this."
    if _wants_json(request):
        return JsonResponse({"status": 403, "title": "Forbidden", "detail": detail}, status=403)
    return render(request, "403.html", {"detail": detail}, status=403)


def page_not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"status": 404, "title": "Not Found", "detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return JsonResponse({"status": 500, "title": "Server Error", "detail": "Something went wrong on our side."}, status=500)
    return render(request, "500.html", status=500)
