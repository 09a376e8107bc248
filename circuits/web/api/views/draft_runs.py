"""Test runs of a circuit's draft: with a payload, from the next real call to the webhook test URL
("listen for a test event"), or of one node alone (the builder's "run this step").

Every test run is queued (202): a worker runs it; follow it on the live socket
`/ws/t/<tenant>/executions/<id>/` or by reading `url`.
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.trigger import Trigger
from circuits.automation.services.draft_runs import RunNodeAlone, StartTestRun
from circuits.automation.triggers.kinds.webhook import WebhookTrigger
from circuits.tenancy.roles import Perm
from circuits.web import webhooks
from circuits.web.api.serializers.common import JSONObjectField, StrictSerializer
from circuits.web.api.serializers.executions import ExecutionAcceptedSerializer
from circuits.web.api.views.base import CIRCUIT_NAME, ApiView
from circuits.web.api.views.executions import DETAIL, detail_queryset

TAG = ["test runs"]
NODE_KEY = OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH, description="The key of a step in the circuit's draft.")
ACCEPTED = {**DETAIL, "status": "queued", "is_test": True, "steps": [], "url": "https://circuitos.example/api/v1/executions/816"}


class TestRunSerializer(StrictSerializer):
    payload = JSONObjectField(required=False, default=dict, help_text="The trigger's data for the run (a webhook circuit reads trigger.body …).")


class NodeRunSerializer(StrictSerializer):
    trigger = JSONObjectField(required=False, help_text="The trigger's data; without it, the payload of the latest test run.")
    steps = JSONObjectField(
        required=False,
        default=dict,
        help_text="Outputs of earlier steps the node reads, by step key; a step not named here uses its pinned data.",
    )
    vars = JSONObjectField(required=False, default=dict, help_text="Circuit variables the node reads (vars.…).")


class ListenSerializer(serializers.Serializer):
    listen = serializers.CharField(help_text="The id of this listen: send it to read the result or cancel.")
    test_url = serializers.URLField(help_text="The webhook's test URL: the next call to it becomes the test run.")
    seconds = serializers.IntegerField(help_text="How long the listen lasts.")


class ListenResultSerializer(serializers.Serializer):
    waiting = serializers.BooleanField(required=False, help_text="Still listening (no call yet).")
    execution = serializers.IntegerField(required=False, help_text="The test execution the call started.")
    error = serializers.CharField(required=False, help_text="The call came but the draft could not run.")
    payload = serializers.JSONField(required=False, help_text="With `error`: the payload that came.")


class ListenQuerySerializer(serializers.Serializer):
    listen = serializers.CharField(max_length=64, help_text="The id the POST answered.")


def _accepted(view: ApiView, execution) -> Response:
    execution = detail_queryset(view).get(pk=execution.pk)
    body = ExecutionAcceptedSerializer(execution, context={"request": view.request}).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class _RunView(ApiView):
    perms = {}  # RUN is checked on the circuit (an object grant counts)
    serializer_class = ExecutionAcceptedSerializer

    def run_circuit(self, name: str) -> Circuit:
        circuit = self.get_circuit(name)
        self.require(Perm.RUN, circuit)
        return circuit


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class TestRunView(_RunView):
    @extend_schema(
        summary="Test-run the draft with a payload",
        description=(
            "Queues a test execution of the circuit's draft (else its published version) with `payload` as the trigger's data; "
            "pinned steps use their pinned data. A draft whose graph is invalid is refused with its graph errors (400). "
            "Operators and up; viewers get 403."
        ),
        request=TestRunSerializer,
        responses={202: OpenApiResponse(ExecutionAcceptedSerializer, description="The queued test execution; follow `url`.")},
        examples=[
            OpenApiExample("Test run", request_only=True, value={"payload": {"body": {"email": "ada@example.com"}}}),
            OpenApiExample("Queued", response_only=True, status_codes=["202"], value=ACCEPTED),
        ],
    )
    def post(self, request, name: str):
        circuit = self.run_circuit(name)
        data = self.validated(TestRunSerializer)
        return _accepted(self, StartTestRun(self.tenant, self.actor, circuit, data["payload"]).execute())


def _webhook(circuit: Circuit) -> Trigger:
    trigger = circuit.triggers.filter(type=WebhookTrigger.type).exclude(webhook_token="").order_by("pk").first()
    if trigger is None:
        raise ValidationError({"trigger": "This circuit has no webhook trigger to listen on: add one in the trigger panel."})
    return trigger


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class ListenView(_RunView):
    """The webhook's "listen for a test event" (circuits/web/webhooks.py takes the call and starts the run)."""

    serializer_class = ListenSerializer

    @extend_schema(
        summary="Listen for the next call to the webhook's test URL",
        description=(
            f"For {webhooks.LISTEN_SECONDS} seconds the next POST to `test_url` starts a test run of the draft with what it sent "
            "(`trigger.body`, `trigger.query`, `trigger.headers`). Listening again replaces an earlier listen. A circuit without a "
            "webhook trigger is a 400 naming `trigger`. Operators and up."
        ),
        request=None,
        responses={200: ListenSerializer},
        examples=[
            OpenApiExample("Listening", response_only=True, value={"listen": "Qm9vbXNoYWth", "test_url": "https://cos.example/hooks/t0k/test", "seconds": 120})
        ],
    )
    def post(self, request, name: str):
        trigger = _webhook(self.run_circuit(name))
        listen_id = secrets.token_urlsafe(12)
        webhooks.listen(trigger, self.actor, listen_id)
        test_url = request.build_absolute_uri(reverse("test_webhook", args=[trigger.webhook_token]))
        return Response({"listen": listen_id, "test_url": test_url, "seconds": webhooks.LISTEN_SECONDS})

    @extend_schema(
        summary="Whether the listened-for call came, and which test run it started",
        parameters=[ListenQuerySerializer],
        responses={200: ListenResultSerializer},
        examples=[OpenApiExample("Came", response_only=True, value={"execution": 816}), OpenApiExample("Waiting", response_only=True, value={"waiting": True})],
    )
    def get(self, request, name: str):
        trigger = _webhook(self.run_circuit(name))
        query = self.validated(ListenQuerySerializer, data=request.query_params.dict())
        return Response(webhooks.listen_result(trigger, query["listen"]))

    @extend_schema(summary="Stop listening", parameters=[ListenQuerySerializer], responses={204: None})
    def delete(self, request, name: str):
        trigger = _webhook(self.run_circuit(name))
        query = self.validated(ListenQuerySerializer, data=request.query_params.dict())
        webhooks.stop_listening(trigger, query["listen"])
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME, NODE_KEY])
class NodeRunView(_RunView):
    @extend_schema(
        summary="Run one step of the draft alone",
        description=(
            "Queues a test execution in which only this step runs (`only_node`). The earlier steps it reads come from `steps` "
            "(their outputs, by key) or else from their pinned data, and are shown as finished steps of the execution; "
            "the trigger's data is `trigger`, else the latest test run's payload. A step it reads with neither is a 400 naming "
            "`steps`; an unknown step or a loop/parallel block a 400 naming `node`. Its own pinned data is ignored: it runs for real. "
            "Operators and up; viewers get 403."
        ),
        request=NodeRunSerializer,
        responses={202: OpenApiResponse(ExecutionAcceptedSerializer, description="The queued test execution; follow `url`.")},
        examples=[
            OpenApiExample("With an earlier output", request_only=True, value={"trigger": {"email": "ada@example.com"}, "steps": {"score": {"score": 80}}}),
            OpenApiExample("Queued", response_only=True, status_codes=["202"], value={**ACCEPTED, "only_node": "notify"}),
        ],
    )
    def post(self, request, name: str, key: str):
        circuit = self.run_circuit(name)
        data = self.validated(NodeRunSerializer)
        service = RunNodeAlone(self.tenant, self.actor, circuit, key, trigger=data.get("trigger"), steps=data["steps"], vars=data["vars"])
        return _accepted(self, service.execute())
