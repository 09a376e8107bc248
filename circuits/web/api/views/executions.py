"""Executions: start one (POST /execute), list and read them, cancel, re-run, retry from the failed step, re-run from a step."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from circuits.automation.models.execution import Execution, StepRun
from circuits.automation.services.executions import CancelExecution, RerunExecution, RetryFromFailedStep, StartExecution
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service
from circuits.web.api.pagination import ExecutionCursorPagination
from circuits.web.api.serializers.common import EmptySerializer, StrictSerializer
from circuits.web.api.serializers.executions import (
    ExecuteQuerySerializer,
    ExecuteSerializer,
    ExecutionAcceptedSerializer,
    ExecutionDetailSerializer,
    ExecutionFilterSerializer,
    ExecutionSerializer,
    RetrySerializer,
    wait_cap,
)
from circuits.web.api.views.base import ApiView, id_param
from circuits.web.views.builder.services import RerunFromStep

TAG = ["executions"]
EXECUTION = {
    "id": 812,
    "circuit": "lead-scoring",
    "version": 3,
    "status": "succeeded",
    "trigger_type": "api",
    "is_test": False,
    "only_node": None,
    "event": None,
    "rerun_of": None,
    "parent": None,
    "caused_by": None,
    "chain_depth": 1,
    "started_by": "owner@acme.test",
    "error": None,
    "created_at": "2025-01-07T10:00:00Z",
    "started_at": "2025-01-07T10:00:00.010Z",
    "finished_at": "2025-01-07T10:00:00.052Z",
    "duration_ms": 42,
    "step_count": 1,
}
STEP = {
    "id": 4411,
    "node_key": "score",
    "action": "util.transform",
    "scope": "",
    "attempt": 1,
    "status": "succeeded",
    "port": "next",
    "input": {"template": {"score": 80}},
    "output": {"score": 80},
    "error": None,
    "logs": [],
    "resume_at": None,
    "started_at": "2025-01-07T10:00:00.011Z",
    "finished_at": "2025-01-07T10:00:00.050Z",
    "duration_ms": 39.2,
}
DETAIL = {**EXECUTION, "input": {"score": 80}, "output": {"score": 80}, "vars": {}, "wait_until": None, "steps": [STEP]}
EXECUTION_EXAMPLE = OpenApiExample("An execution", response_only=True, value=EXECUTION)
DETAIL_EXAMPLE = OpenApiExample("With steps", response_only=True, value=DETAIL)
EXECUTION_ID = id_param("id", "execution")


def detail_queryset(view: ApiView):
    steps = Prefetch("steps", queryset=StepRun.objects.order_by("started_at", "pk"))
    return Execution.objects.restrict(view.actor, Perm.VIEW, view.tenant).select_related("circuit", "version", "started_by").prefetch_related(steps)


@extend_schema(tags=TAG)
class ExecuteView(ApiView):
    perms = {}  # RUN is checked on the circuit (an object grant counts)
    serializer_class = ExecutionDetailSerializer

    @extend_schema(
        summary="Run a circuit",
        description=(
            "Starts the circuit's published version with `data` as its payload; a worker runs it. Without `wait` the answer is 202 "
            "with the queued execution at once. With `?wait=true` the request waits up to `timeout` seconds (default and maximum "
            "API_WAIT_SECONDS) for the outcome: a run that finished in time answers 200 with its output and steps; otherwise — still "
            "running, or parked by a long wait — 202 with the execution, its `url` and a `Location` header, and the run goes on in "
            "the worker. The timeout bounds the wait, never the run (the tenant's governor limits bound the run)."
        ),
        parameters=[ExecuteQuerySerializer],
        request=ExecuteSerializer,
        responses={
            200: OpenApiResponse(ExecutionDetailSerializer, description="With wait: the run finished within the wait."),
            202: OpenApiResponse(ExecutionAcceptedSerializer, description="Queued, still running or parked; follow `url` (also `Location`)."),
        },
        examples=[
            OpenApiExample("Run", request_only=True, value={"circuit_name": "lead-scoring", "data": {"email": "ada@example.com", "score": 80}}),
            DETAIL_EXAMPLE,
        ],
    )
    def post(self, request):
        query = self.validated(ExecuteQuerySerializer, data=request.query_params.dict())
        data = self.validated(ExecuteSerializer)
        circuit = self.get_circuit(data["circuit_name"])
        wait_seconds = query.get("timeout", wait_cap()) if query["wait"] else None
        execution = StartExecution(self.tenant, self.actor, circuit, data["data"], test=data["test"], trigger_type="api", wait_seconds=wait_seconds).execute()
        execution = detail_queryset(self).get(pk=execution.pk)
        if execution.is_finished:
            return Response(ExecutionDetailSerializer(execution).data, status=status.HTTP_200_OK)
        body = ExecutionAcceptedSerializer(execution, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


@extend_schema(tags=TAG)
class ExecutionListView(ApiView):
    serializer_class = ExecutionSerializer
    pagination_class = ExecutionCursorPagination

    def get_queryset(self):
        filters = self.validated(ExecutionFilterSerializer, data=self.request.query_params.dict())
        qs = Execution.objects.restrict(self.actor, Perm.VIEW, self.tenant).select_related("circuit", "version", "started_by")
        if "circuit" in filters:
            qs = qs.filter(circuit__in=self.circuits().filter(slug=filters["circuit"]))
        if "status" in filters:
            qs = qs.filter(status=filters["status"])
        if "trigger" in filters:
            qs = qs.filter(trigger_type=filters["trigger"])
        if filters.get("is_test") is not None:
            qs = qs.filter(is_test=filters["is_test"])
        if "created_after" in filters:
            qs = qs.filter(created_at__gte=filters["created_after"])
        if "created_before" in filters:
            qs = qs.filter(created_at__lt=filters["created_before"])
        return qs

    @extend_schema(
        summary="List executions (newest first, cursor-paginated)",
        parameters=[ExecutionFilterSerializer, OpenApiParameter("page_size", OpenApiTypes.INT, description="At most 200.")],
        examples=[EXECUTION_EXAMPLE],
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ExecutionSerializer(page, many=True).data)


@extend_schema(tags=TAG, parameters=[EXECUTION_ID])
class ExecutionDetailView(ApiView):
    serializer_class = ExecutionDetailSerializer

    @extend_schema(summary="Read an execution with its step runs", examples=[DETAIL_EXAMPLE])
    def get(self, request, id: int):
        execution = detail_queryset(self).filter(pk=id).first()
        if execution is None:
            raise Http404(f"No execution {id}.")
        return Response(ExecutionDetailSerializer(execution).data)


class _ExecutionActionView(ApiView):
    perms = {}  # RUN is checked by the service on the execution's circuit
    serializer_class = ExecutionSerializer
    service: type[Service]
    options: type[StrictSerializer] = EmptySerializer  # the body: the service's keyword options
    created = False

    def post(self, request, id: int):
        execution = Execution.objects.restrict(self.actor, Perm.VIEW, self.tenant).select_related("circuit").filter(pk=id).first()
        if execution is None:
            raise Http404(f"No execution {id}.")
        options = self.validated(self.options)
        result = self.service(self.tenant, self.actor, execution, **options).execute()
        result = Execution.objects.select_related("circuit", "version", "started_by").get(pk=result.pk)
        return Response(ExecutionSerializer(result).data, status=status.HTTP_201_CREATED if self.created else status.HTTP_200_OK)


@extend_schema(tags=TAG, parameters=[EXECUTION_ID])
class ExecutionCancelView(_ExecutionActionView):
    service = CancelExecution

    @extend_schema(
        summary="Cancel a queued, running or waiting execution",
        request=EmptySerializer,
        examples=[
            OpenApiExample(
                "Cancelled",
                response_only=True,
                value={**EXECUTION, "status": "cancelled", "error": {"message": "cancelled by owner@acme.test", "type": "cancelled"}},
            )
        ],
    )
    def post(self, request, id: int):
        return super().post(request, id)


@extend_schema(tags=TAG, parameters=[EXECUTION_ID])
class ExecutionRerunView(_ExecutionActionView):
    service = RerunExecution
    created = True

    @extend_schema(
        summary="Run a finished execution again from the start (same version, same input)",
        request=EmptySerializer,
        responses={201: OpenApiResponse(ExecutionSerializer, description="The new execution (queued).")},
        examples=[OpenApiExample("Re-run", response_only=True, value={**EXECUTION, "id": 813, "status": "queued", "rerun_of": 812})],
    )
    def post(self, request, id: int):
        return super().post(request, id)


@extend_schema(tags=TAG, parameters=[EXECUTION_ID])
class ExecutionRetryView(_ExecutionActionView):
    service = RetryFromFailedStep
    options = RetrySerializer
    created = True

    @extend_schema(
        summary="Retry a failed or cancelled execution from its failed step (finished steps are kept)",
        description=(
            "A new execution with the same input. By default it runs the version the failed one ran and keeps every finished step. "
            'With `{"version": "published"}` it runs the circuit\'s published version — so a fix published since is picked up — and '
            "keeps only the steps that succeeded and that nothing changed for: their node and every node upstream of it have the same "
            "key, action, config and incoming edges, no step upstream runs again, and for a loop or parallel block its whole body is "
            "unchanged. Kept steps carry one log entry naming the execution they ran in. Operators and up; viewers get 403."
        ),
        request=RetrySerializer,
        responses={201: OpenApiResponse(ExecutionSerializer, description="The new execution (queued).")},
        examples=[
            OpenApiExample("On the published version", request_only=True, value={"version": "published"}),
            OpenApiExample("Retry", response_only=True, value={**EXECUTION, "id": 814, "status": "queued", "rerun_of": 812}),
        ],
    )
    def post(self, request, id: int):
        return super().post(request, id)


class RerunFromStepSerializer(StrictSerializer):
    node = serializers.CharField(max_length=100, help_text="The key of the step to start again at (in the circuit's current draft).")


@extend_schema(tags=TAG, parameters=[EXECUTION_ID])
class ExecutionRerunFromStepView(ApiView):
    perms = {}  # RUN is checked by the service on the execution's circuit
    serializer_class = ExecutionSerializer

    @extend_schema(
        summary="Re-run an execution from a chosen step, as a test run of the draft (the builder's “run from here”)",
        description=(
            "A new test execution of the circuit's draft with the same input. The steps before `node` are pinned — their results are "
            "copied from this execution and not run again — so only `node` and what follows it run, with the draft's current "
            "configuration. A 400 names `node` when the draft has no such step or this execution has no finished result for a step "
            "before it (run from the start then). Operators and up; viewers get 403."
        ),
        request=RerunFromStepSerializer,
        responses={201: OpenApiResponse(ExecutionSerializer, description="The new test execution (queued).")},
        examples=[
            OpenApiExample("From a step", request_only=True, value={"node": "notify"}),
            OpenApiExample("Queued", response_only=True, value={**EXECUTION, "id": 815, "status": "queued", "is_test": True, "rerun_of": 812}),
        ],
    )
    def post(self, request, id: int):
        execution = Execution.objects.restrict(self.actor, Perm.VIEW, self.tenant).select_related("circuit").filter(pk=id).first()
        if execution is None:
            raise Http404(f"No execution {id}.")
        data = self.validated(RerunFromStepSerializer)
        result = RerunFromStep(self.tenant, self.actor, execution.circuit, execution, data["node"]).execute()
        result = Execution.objects.select_related("circuit", "version", "started_by").get(pk=result.pk)
        return Response(ExecutionSerializer(result).data, status=status.HTTP_201_CREATED)
