"""Execution metrics per circuit over a window, and resetting them."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from circuits.automation.models.execution import ExecutionStatus
from circuits.automation.services.metrics import ResetMetrics, circuit_metrics, window_start
from circuits.tenancy.roles import Perm
from circuits.web.api.serializers.common import EmptySerializer, FiniteFloatField
from circuits.web.api.views.base import ApiView

TAG = ["metrics"]
MAX_HOURS = 24 * 366


class MetricsQuerySerializer(serializers.Serializer):
    hours = FiniteFloatField(required=False, default=24, min_value=0.01, max_value=MAX_HOURS, help_text="The window: the last N hours.")
    circuit = serializers.SlugField(required=False, help_text="Only this circuit (slug).")


class StatusCountsSerializer(serializers.Serializer):
    def get_fields(self):
        return {status: serializers.IntegerField() for status in ExecutionStatus.values}


class CircuitMetricsSerializer(serializers.Serializer):
    circuit = serializers.CharField(help_text="Slug.")
    name = serializers.CharField()
    total = serializers.IntegerField()
    by_status = StatusCountsSerializer()
    success_rate = serializers.FloatField(allow_null=True, help_text="Succeeded / (succeeded + failed), null when none finished.")
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)


class MetricsSerializer(serializers.Serializer):
    hours = serializers.FloatField()
    since = serializers.DateTimeField(allow_null=True, help_text="Start of the window (a metrics reset moves it later).")
    circuits = CircuitMetricsSerializer(many=True)


class ResetResultSerializer(serializers.Serializer):
    metrics_since = serializers.DateTimeField()


@extend_schema(tags=TAG)
class MetricsView(ApiView):
    serializer_class = MetricsSerializer

    @extend_schema(
        summary="Per circuit: executions by status, success rate, p50/p95 duration over a window",
        parameters=[MetricsQuerySerializer],
        examples=[
            OpenApiExample(
                "Metrics",
                response_only=True,
                value={
                    "hours": 24,
                    "since": "2025-01-06T10:00:00Z",
                    "circuits": [
                        {
                            "circuit": "lead-scoring",
                            "name": "Lead scoring",
                            "total": 120,
                            "by_status": {"queued": 0, "running": 1, "waiting": 0, "succeeded": 114, "failed": 5, "cancelled": 0},
                            "success_rate": 0.958,
                            "p50_ms": 41.0,
                            "p95_ms": 230.0,
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request):
        query = self.validated(MetricsQuerySerializer, data=request.query_params.dict())
        visible = self.circuits()
        if "circuit" in query:
            visible = visible.filter(slug=query["circuit"])
        rows = circuit_metrics(self.tenant, hours=query["hours"], circuit_ids=visible.values("pk"))
        body = {"hours": query["hours"], "since": window_start(self.tenant, query["hours"]), "circuits": rows}
        return Response(MetricsSerializer(body).data)


@extend_schema(tags=TAG)
class MetricsResetView(ApiView):
    perms = {"POST": Perm.MANAGE_SETTINGS}
    serializer_class = ResetResultSerializer

    @extend_schema(
        summary="Reset metrics: count from now on (owners and admins; executions are kept)",
        request=EmptySerializer,
        examples=[OpenApiExample("Reset", response_only=True, value={"metrics_since": "2025-01-07T10:00:00Z"})],
    )
    def post(self, request):
        self.validated(EmptySerializer)
        tenant = ResetMetrics(self.tenant, self.actor).execute()
        return Response(ResetResultSerializer(tenant).data)
