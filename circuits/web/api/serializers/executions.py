"""Executions and their step runs; starting circuits and publishing events."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun, StepStatus
from circuits.automation.services.executions import RetryVersion
from circuits.automation.triggers import registry as trigger_registry
from circuits.web.api.serializers.common import FiniteFloatField, JSONObjectField, StrictSerializer
from circuits.web.locations import execution_url


class ExecutionSerializer(serializers.ModelSerializer):
    circuit = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True, help_text="The version number it ran.")
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, read_only=True)
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    error = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = Execution
        fields = [
            "id",
            "circuit",
            "version",
            "status",
            "trigger_type",
            "is_test",
            "only_node",
            "event",
            "rerun_of",
            "parent",
            "caused_by",
            "chain_depth",
            "started_by",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
            "step_count",
        ]
        read_only_fields = fields


class StepRunSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=StepStatus.choices, read_only=True)
    input = serializers.JSONField(read_only=True, allow_null=True)
    output = serializers.JSONField(read_only=True, allow_null=True)
    error = serializers.JSONField(read_only=True, allow_null=True)
    logs = serializers.JSONField(read_only=True)

    class Meta:
        model = StepRun
        fields = [
            "id",
            "node_key",
            "action",
            "scope",
            "attempt",
            "status",
            "port",
            "input",
            "output",
            "error",
            "logs",
            "resume_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]
        read_only_fields = fields


class ExecutionDetailSerializer(ExecutionSerializer):
    input = serializers.JSONField(read_only=True)
    output = serializers.JSONField(read_only=True, allow_null=True)
    vars = serializers.JSONField(read_only=True)
    steps = StepRunSerializer(many=True, read_only=True)

    class Meta(ExecutionSerializer.Meta):
        fields = [*ExecutionSerializer.Meta.fields, "input", "output", "vars", "wait_until", "steps"]
        read_only_fields = fields


class ExecutionFilterSerializer(StrictSerializer):
    """Query parameters of GET /api/v1/executions (unknown parameters are ignored, not refused)."""

    circuit = serializers.SlugField(required=False, help_text="Circuit slug.")
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, required=False)
    trigger = serializers.ChoiceField(choices=trigger_registry.choices(), required=False, help_text="What started the execution.")
    is_test = serializers.BooleanField(required=False, allow_null=True, default=None)
    created_after = serializers.DateTimeField(required=False, help_text="ISO 8601; inclusive.")
    created_before = serializers.DateTimeField(required=False, help_text="ISO 8601; exclusive.")

    def to_internal_value(self, data):
        # Query strings carry other parameters too (cursor, page_size): only ours are read.
        return serializers.Serializer.to_internal_value(self, data)

    def validate(self, attrs: dict) -> dict:
        after, before = attrs.get("created_after"), attrs.get("created_before")
        if after and before and after >= before:
            raise serializers.ValidationError({"created_before": ["Must be later than created_after."]})
        return attrs


class ExecuteSerializer(StrictSerializer):
    circuit_name = serializers.SlugField(max_length=50, help_text="The circuit's slug.")
    data = JSONObjectField(required=False, default=dict, help_text="The trigger payload the circuit receives.")
    test = serializers.BooleanField(required=False, default=False, help_text="Run the draft (or newest version) as a test run.")


def wait_cap() -> float:
    """The longest a caller may wait for an execution's outcome (the run itself is not bounded by it)."""
    return float(settings.API_WAIT_SECONDS)


class WaitQuerySerializer(serializers.Serializer):
    """`?timeout=`: how long a caller waits for an execution's outcome (≤ API_WAIT_SECONDS)."""

    timeout = FiniteFloatField(
        required=False,
        min_value=0.1,
        help_text="The most seconds to wait (default and maximum: API_WAIT_SECONDS, 30). It bounds the wait, not the run.",
    )

    def validate_timeout(self, value: float) -> float:
        if value > wait_cap():
            raise serializers.ValidationError(f"Ensure this value is less than or equal to {wait_cap():g} (API_WAIT_SECONDS).")
        return value


class ExecuteQuerySerializer(WaitQuerySerializer):
    wait = serializers.BooleanField(
        required=False, default=False, help_text="Wait for the outcome: 200 with the output when the run finishes in time, else 202 with where to find it."
    )
    timeout = FiniteFloatField(
        required=False,
        min_value=0.1,
        help_text="With wait: the most seconds to wait (default and maximum: API_WAIT_SECONDS, 30). It bounds the wait, not the run.",
    )

    def validate(self, attrs: dict) -> dict:
        if "timeout" in attrs and not attrs["wait"]:
            raise serializers.ValidationError({"timeout": ["Only with wait=true: it bounds how long the request waits."]})
        return attrs


class ExecutionAcceptedSerializer(ExecutionDetailSerializer):
    """An execution still in progress (or parked) when the answer is given: where to follow it."""

    url = serializers.SerializerMethodField(help_text="The execution's address in this API (also the Location header).")

    class Meta(ExecutionDetailSerializer.Meta):
        fields = [*ExecutionDetailSerializer.Meta.fields, "url"]
        read_only_fields = fields

    def get_url(self, execution: Execution) -> str:
        return execution_url(self.context["request"], execution.pk)


class RetrySerializer(StrictSerializer):
    version = serializers.ChoiceField(
        choices=RetryVersion.CHOICES,
        required=False,
        default=RetryVersion.ORIGINAL,
        help_text=(
            "`original` (default): the version the execution ran; every finished step is kept. `published`: the circuit's published "
            "version now, to pick up a fix; only steps that succeeded and whose node and everything upstream of it are unchanged "
            "(same key, action, config and incoming edges) are kept, and the rest runs again."
        ),
    )


class EventPublishSerializer(StrictSerializer):
    event = serializers.RegexField(r"^[A-Za-z0-9_.:\-]{1,200}$", max_length=200, help_text="Event name, e.g. lead.created (see GET /api/v1/events).")
    data = JSONObjectField(required=False, default=dict, help_text="The event payload.")


class CustomEventSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, help_text="Lowercase words joined by dots, e.g. deal.escalated.")
    description = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    source = serializers.CharField()
    created_at = serializers.DateTimeField()


class PublishResultSerializer(serializers.Serializer):
    event = EventSerializer()
    executions = ExecutionSerializer(many=True)


class CatalogueEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    builtin = serializers.BooleanField()
