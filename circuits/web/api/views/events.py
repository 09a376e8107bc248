"""Platform events: the trigger event catalogue and publishing an event."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response

from circuits.automation.models.execution import Execution
from circuits.automation.services.tenant_settings import DefineCustomEvent
from circuits.automation.triggers.catalogue import catalogue, require_known
from circuits.automation.triggers.kinds.event import publish_event
from circuits.tenancy.models.access import ApiKey
from circuits.tenancy.roles import Perm
from circuits.web.api.serializers.executions import (
    CatalogueEntrySerializer,
    CustomEventSerializer,
    EventPublishSerializer,
    ExecutionSerializer,
    PublishResultSerializer,
)
from circuits.web.api.views.base import ApiView

TAG = ["events"]


@extend_schema(tags=TAG)
class EventCatalogueView(ApiView):
    serializer_class = CatalogueEntrySerializer

    @extend_schema(
        summary="The trigger event catalogue (built-in events and the tenant's own)",
        responses={200: CatalogueEntrySerializer(many=True)},
        examples=[
            OpenApiExample("Catalogue", response_only=True, value=[{"name": "lead.created", "description": "A lead record was created.", "builtin": True}])
        ],
    )
    def get(self, request):
        return Response(CatalogueEntrySerializer(catalogue(self.tenant), many=True).data)


@extend_schema(tags=TAG)
class EventPublishView(ApiView):
    perms = {"POST": Perm.RUN}
    serializer_class = PublishResultSerializer

    @extend_schema(
        summary="Publish an event; every enabled trigger listening to it starts an execution",
        description=(
            "The name must be in the catalogue (`GET /api/v1/events`): built-in, a record event of one of the tenant's "
            "object types, or one of the tenant's custom events (`POST /api/v1/events/custom`). Any other name is a 400 "
            "naming the closest catalogue entries."
        ),
        request=EventPublishSerializer,
        responses={201: PublishResultSerializer},
        examples=[
            OpenApiExample("Publish", request_only=True, value={"event": "lead.created", "data": {"record": {"email": "ada@example.com", "score": 80}}}),
            OpenApiExample(
                "Started",
                response_only=True,
                value={
                    "event": {"id": 55, "name": "lead.created", "source": "api:ci-key", "created_at": "2025-01-07T10:00:00Z"},
                    "executions": [
                        {"id": 812, "circuit": "lead-scoring", "version": 3, "status": "queued", "trigger_type": "event", "is_test": False, "event": 55}
                    ],
                },
            ),
        ],
    )
    def post(self, request):
        data = self.validated(EventPublishSerializer)
        require_known(self.tenant, data["event"])
        who = f"key:{request.auth.name}" if isinstance(request.auth, ApiKey) else f"user:{request.user.get_username()}"
        event, started = publish_event(self.tenant, data["event"], data["data"], source=f"api:{who}"[:200])
        executions = Execution.objects.for_tenant(self.tenant).filter(pk__in=[e.pk for e in started]).select_related("circuit", "version", "started_by")
        body = {
            "event": {"id": event.pk, "name": event.name, "source": event.source, "created_at": event.created_at},
            "executions": ExecutionSerializer(executions.order_by("pk"), many=True).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAG)
class CustomEventView(ApiView):
    perms = {"POST": Perm.MANAGE_SETTINGS}
    serializer_class = CatalogueEntrySerializer

    @extend_schema(
        summary="Define a custom event: a name of the tenant's own that circuits can trigger on and the API can publish",
        request=CustomEventSerializer,
        responses={201: CatalogueEntrySerializer},
        examples=[
            OpenApiExample("Define", request_only=True, value={"name": "deal.escalated", "description": "A deal needs a manager."}),
            OpenApiExample("Defined", response_only=True, value={"name": "deal.escalated", "description": "A deal needs a manager.", "builtin": False}),
        ],
    )
    def post(self, request):
        data = self.validated(CustomEventSerializer)
        defined = DefineCustomEvent(self.tenant, self.actor, name=data["name"], description=data["description"]).execute()
        body = {"name": defined.name, "description": defined.description, "builtin": False}
        return Response(CatalogueEntrySerializer(body).data, status=status.HTTP_201_CREATED)
