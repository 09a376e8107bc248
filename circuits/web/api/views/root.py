"""GET /api/v1/ (links to everything) and the problem+json 404 for unknown paths under /api/."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from circuits.core.problems import PROBLEM_CONTENT_TYPE, problem

LINKS = {
    "circuits": "api:circuits",
    "executions": "api:executions",
    "execute": "api:execute",
    "import": "api:import",
    "events": "api:events",
    "publish_event": "api:events-publish",
    "custom_events": "api:events-custom",
    "audit": "api:audit",
    "metrics": "api:metrics",
    "metrics_reset": "api:metrics-reset",
    "actions": "api:actions",
    "object_types": "api:object-types",
    "credentials": "api:credentials",
    "members": "api:members",
    "roles": "api:roles",
    "api_keys": "api:api-keys",
    "tenant_settings": "api:tenant-settings",
    "schema": "api-schema",
    "docs": "api-docs",
    "health": "health",
}


class RootSerializer(serializers.Serializer):
    def get_fields(self):
        return {name: serializers.URLField() for name in LINKS}


class ApiRootView(APIView):
    """Public: the map of the API (no data)."""

    permission_classes = [AllowAny]

    @extend_schema(
        tags=["root"],
        summary="Links to every resource of the API",
        responses={200: RootSerializer},
        examples=[
            OpenApiExample("Root", response_only=True, value={"circuits": "http://127.0.0.1:8000/api/v1/circuits", "health": "http://127.0.0.1:8000/health"})
        ],
    )
    def get(self, request):
        return Response({name: reverse(route, request=request) for name, route in LINKS.items()})


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Every other path under /api/, whatever the method: a problem+json 404 (never an HTML page)."""
    body = problem(404, f"No API endpoint at {request.path}; see /api/v1/ and /api/docs/.")
    return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE)
