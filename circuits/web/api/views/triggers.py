"""A circuit's triggers: what starts it (events, record changes, schedules, webhooks …)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.trigger import Trigger
from circuits.automation.services.versions import DeleteTrigger, SaveTrigger
from circuits.tenancy.permissions import has_perm
from circuits.tenancy.roles import Perm
from circuits.web.api.serializers.circuits import TriggerSerializer, TriggerUpdateSerializer, TriggerWriteSerializer
from circuits.web.api.views.base import CIRCUIT_NAME, ApiView, id_param

TAG = ["triggers"]
TRIGGER_EXAMPLE = OpenApiExample(
    "A trigger",
    response_only=True,
    value={
        "id": 7,
        "type": "event",
        "config": {"event": "lead.created", "condition": "trigger.record.score >= 50"},
        "enabled": True,
        "key": "lead.created",
        "webhook_url": None,
        "next_run_at": None,
        "last_fired_at": "2025-01-07T10:00:00Z",
        "created_at": "2025-01-06T09:30:00Z",
    },
)


class _TriggerView(ApiView):
    serializer_class = TriggerSerializer

    def context_for(self, circuit: Circuit) -> dict:
        # The webhook URL is the webhook's secret: only those who may edit the circuit see it.
        return {**self.get_serializer_context(), "show_secrets": has_perm(self.actor, self.tenant, Perm.EDIT, circuit)}


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class TriggerListView(_TriggerView):
    perms = {"GET": Perm.VIEW}

    @extend_schema(summary="List a circuit's triggers", responses={200: TriggerSerializer(many=True)}, examples=[TRIGGER_EXAMPLE])
    def get(self, request, name: str):
        circuit = self.get_circuit(name)
        return Response(TriggerSerializer(circuit.triggers.order_by("pk"), many=True, context=self.context_for(circuit)).data)

    @extend_schema(
        summary="Add a trigger (its config is validated against the type's JSON Schema)",
        request=TriggerWriteSerializer,
        responses={201: TriggerSerializer},
        examples=[
            OpenApiExample("Event trigger", request_only=True, value={"type": "event", "config": {"event": "lead.created"}}),
            OpenApiExample("Webhook trigger", request_only=True, value={"type": "webhook", "config": {"respond": "wait"}}),
            TRIGGER_EXAMPLE,
        ],
    )
    def post(self, request, name: str):
        circuit = self.get_circuit(name)
        data = self.validated(TriggerWriteSerializer)
        trigger = SaveTrigger(self.tenant, self.actor, circuit, type=data["type"], config=data["config"], enabled=data["enabled"]).execute()
        return Response(TriggerSerializer(trigger, context=self.context_for(circuit)).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME, id_param("id", "trigger")])
class TriggerDetailView(_TriggerView):
    perms = {"GET": Perm.VIEW}

    def get_trigger(self, name: str, pk: int) -> tuple[Circuit, Trigger]:
        circuit = self.get_circuit(name)
        trigger = Trigger.objects.for_tenant(self.tenant).filter(circuit=circuit, pk=pk).first()
        if trigger is None:
            raise Http404(f"Circuit {name!r} has no trigger {pk}.")
        return circuit, trigger

    @extend_schema(summary="Read a trigger", examples=[TRIGGER_EXAMPLE])
    def get(self, request, name: str, id: int):
        circuit, trigger = self.get_trigger(name, id)
        return Response(TriggerSerializer(trigger, context=self.context_for(circuit)).data)

    @extend_schema(
        summary="Change a trigger's config or enabled flag",
        request=TriggerUpdateSerializer,
        examples=[OpenApiExample("Disable", request_only=True, value={"enabled": False}), TRIGGER_EXAMPLE],
    )
    def patch(self, request, name: str, id: int):
        circuit, trigger = self.get_trigger(name, id)
        data = self.validated(TriggerUpdateSerializer)
        SaveTrigger(
            self.tenant,
            self.actor,
            circuit,
            type=trigger.type,
            config=data.get("config", trigger.config),
            enabled=data.get("enabled", trigger.enabled),
            trigger=trigger,
        ).execute()
        return Response(TriggerSerializer(trigger, context=self.context_for(circuit)).data)

    @extend_schema(summary="Delete a trigger", request=None, responses={204: None})
    def delete(self, request, name: str, id: int):
        _, trigger = self.get_trigger(name, id)
        DeleteTrigger(self.tenant, self.actor, trigger).execute()
        return Response(status=status.HTTP_204_NO_CONTENT)
