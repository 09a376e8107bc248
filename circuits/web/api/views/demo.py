"""The demo tenant's two show-case runs: POST /demo/lead-processing and POST /demo/hot-lead.

Each creates a lead (from the body, or a sample) exactly as any other client would — through
CreateRecord, so the circuit starts the way it does in production: its trigger fires on the
committed record — then waits for that circuit's execution and answers with it and the lead
as the run left it. Only the demo tenant (`acme`, with DEMO_ENDPOINTS on) has them: for any
other tenant, or with the demo off, they are 404.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from circuits.automation.engine.waiting import wait_for_outcome
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.models.version import VersionStatus
from circuits.core.problems import PROBLEM_CONTENT_TYPE
from circuits.records.models import Record
from circuits.records.query import record_to_dict
from circuits.records.service import CreateRecord
from circuits.records.types import get_type
from circuits.tenancy.roles import Perm
from circuits.web.api.serializers.common import ProblemSerializer
from circuits.web.api.serializers.executions import ExecutionAcceptedSerializer, ExecutionDetailSerializer, WaitQuerySerializer, wait_cap
from circuits.web.api.views.base import ApiView
from circuits.web.api.views.executions import DETAIL, STEP, detail_queryset
from circuits.web.demo.examples import DEMO_TENANT, HOT_LEAD_ALERT, LEAD_PROCESSING_AI

TAG = ["demo"]
SAMPLE_LEAD = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@initech.example",
    "company": "Initech",
    "title": "VP of Sales",
    "source": "referral",
    "phone": "+31 10 555 0100",
}
HOT_SCORE = 95  # the sample's score for Hot Lead Alert: above its threshold of 80


DemoRunSerializer = inline_serializer(
    "DemoRun",
    {
        "lead": serializers.DictField(help_text="The lead as the run left it: id, object_type, its fields, created_at, updated_at."),
        "execution": ExecutionDetailSerializer(help_text="The circuit's execution with every step's input and output."),
    },
)
LEAD_BODY = OpenApiExample("A lead of your own", request_only=True, value={"email": "grace@hooli.example", "company": "Hooli", "title": "Head of Operations"})
EMPTY_BODY = OpenApiExample("The sample lead (empty body)", request_only=True, value={})
RUN_EXAMPLE = OpenApiExample(
    "Finished",
    response_only=True,
    value={
        "lead": {"id": 401, "object_type": "lead", **SAMPLE_LEAD, "status": "qualified", "score": 100},
        "execution": {
            **DETAIL,
            "circuit": "lead-processing-ai",
            "trigger_type": "record_change",
            "steps": [{**STEP, "node_key": "score", "action": "ml.predict_lead_score", "input": {"record_id": 401}, "output": {"score": 0.72, "version": 1}}],
        },
    },
)


class _DemoRun(ApiView):
    """Create the lead, find the execution its trigger started, wait for it."""

    perms = {"POST": Perm.EDIT}  # the caller creates a lead; the circuit runs as it would for any lead
    circuit_slug = ""

    def sample(self) -> dict:
        return dict(SAMPLE_LEAD)

    def check_fields(self, circuit: Circuit, fields: dict) -> None:
        """Refuse, before anything is saved, a lead that would not start the circuit."""

    def post(self, request):
        if not settings.DEMO_ENDPOINTS or self.tenant.slug != DEMO_TENANT:
            raise Http404("The demo endpoints exist only for the demo tenant.")
        query = self.validated(WaitQuerySerializer, data=request.query_params.dict())
        fields = self._fields(request.data)
        circuit = self._runnable_circuit()
        self.check_fields(circuit, fields)
        lead = CreateRecord(self.tenant, self.actor, "lead", fields).execute()
        # The trigger started the execution when the lead was committed (no transaction is open here).
        execution = Execution.objects.for_tenant(self.tenant).filter(circuit=circuit, input__record__id=lead.pk).order_by("pk").first()
        if execution is None:
            raise _Conflict(f"Lead {lead.pk} was created, but its trigger did not start {circuit.name}: check the circuit's trigger.")
        wait_for_outcome(execution.pk, query.get("timeout", wait_cap()))
        execution = detail_queryset(self).get(pk=execution.pk)
        lead = Record.objects.for_tenant(self.tenant).filter(pk=lead.pk).first() or lead
        if execution.is_finished:
            return Response({"lead": record_to_dict(lead), "execution": ExecutionDetailSerializer(execution).data}, status=status.HTTP_200_OK)
        body = ExecutionAcceptedSerializer(execution, context={"request": request}).data
        return Response({"lead": record_to_dict(lead), "execution": body}, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})

    def _fields(self, data: Any) -> dict:
        if data in (None, "", {}) or (hasattr(data, "keys") and not list(data.keys())):
            return self.sample()
        if not isinstance(data, dict):
            raise serializers.ValidationError({"body": "Send the lead's fields as a JSON object, or an empty body for the sample lead."})
        return dict(data)

    def _runnable_circuit(self) -> Circuit:
        circuit = Circuit.objects.for_tenant(self.tenant).filter(slug=self.circuit_slug).first()
        if circuit is None:
            raise _Conflict(f"The demo has no circuit {self.circuit_slug!r}; run `manage.py load_demo` to restore it.")
        if not circuit.enabled:
            raise _Conflict(f"{circuit.name} is disabled; enable it to run the demo.")
        if not circuit.versions.filter(status=VersionStatus.PUBLISHED).exists():
            raise _Conflict(f"{circuit.name} has no published version.")
        return circuit


class _Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _schema(summary: str, description: str):
    return extend_schema(
        tags=TAG,
        summary=summary,
        description=description + " A field of the lead that is invalid is a 400 naming it, with nothing saved; for any tenant but the demo's, or with the"
        " demo off (DEMO_ENDPOINTS), the endpoint is a 404.",
        parameters=[WaitQuerySerializer],
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiResponse(DemoRunSerializer, description="The run finished: the lead and the execution with every step's output."),
            202: OpenApiResponse(description="Still running when the wait ran out: the lead and the execution's `url` (also `Location`)."),
            (409, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description="The circuit is missing, disabled or unpublished; nothing was saved."),
        },
        examples=[EMPTY_BODY, LEAD_BODY, RUN_EXAMPLE],
    )


@_schema(
    "Run Lead Processing AI on a demo lead",
    "Creates a lead from the body (its fields) or, with an empty body, a sample VP of Sales at Initech, and answers with the "
    "execution of **Lead Processing AI** that the new lead started: its site, the news, the tenant's documents, the lead-score "
    "model, the knowledge graph's competitors and, for a lead above the model's threshold, the opportunity and the Slack post.",
)
class LeadProcessingDemoView(_DemoRun):
    circuit_slug = LEAD_PROCESSING_AI


@_schema(
    "Run Hot Lead Alert on a demo lead",
    "Creates a lead whose score is above Hot Lead Alert's threshold (the body's fields; an empty body or one without a score gets "
    f"the sample's score of {HOT_SCORE}) and answers with the execution of **Hot Lead Alert** it started: the lead-score model's "
    "view, and the Slack post, e-mail and call task made in parallel.",
)
class HotLeadDemoView(_DemoRun):
    circuit_slug = HOT_LEAD_ALERT

    def sample(self) -> dict:
        return {**SAMPLE_LEAD, "score": HOT_SCORE}

    def _fields(self, data: Any) -> dict:
        fields = super()._fields(data)
        fields.setdefault("score", HOT_SCORE)
        return fields

    def check_fields(self, circuit: Circuit, fields: dict) -> None:
        trigger = circuit.triggers.filter(type="threshold", enabled=True).first()
        if trigger is None:
            raise _Conflict(f"{circuit.name} has no enabled threshold trigger.")
        threshold = float(trigger.config.get("value", 0))
        # Compare the score as the record will store it: "40" is coerced to 40 and null leaves it
        # out, and either would save a lead the trigger never fires on (then a 409, lead kept).
        score = get_type(self.tenant, "lead").normalize(fields).get("score")
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise ValidationError({"score": f"{circuit.name} fires on a lead's score: send a number of at least {threshold:g}, or leave it out."})
        if score < threshold:
            raise ValidationError({"score": f"{circuit.name} fires when a lead's score reaches {threshold:g}; {score} would not start it."})
