"""Circuits, their versions (the graph document), triggers and import/export."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from circuits.automation.engine.graph import node_ports
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.trigger import Trigger
from circuits.automation.models.version import CircuitVersion, OnError, VersionStatus
from circuits.automation.services.versions import version_document
from circuits.automation.triggers import registry as trigger_registry
from circuits.tenancy.models.tenants import slug_validator
from circuits.web.api.serializers.common import MAX_INT, FiniteFloatField, JSONObjectField, StrictSerializer


class FailurePolicySerializer(serializers.Serializer):
    """The shape of an "on failure" policy (documentation; the service checks every name in the tenant)."""

    notify = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=50,
        help_text="In-app notifications for: owner (the circuit's), admins (owners and admins), editors, or members' usernames.",
    )
    emails = serializers.ListField(
        child=serializers.CharField(), required=False, max_length=50, help_text="E-mail addresses of members of the tenant (nobody else's)."
    )
    slack = serializers.CharField(required=False, allow_blank=True, help_text="The name of a slack_webhook credential of the tenant.")
    error_circuit = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Slug of a circuit of the tenant started with the failed execution as its payload "
        "(id, url, circuit, circuit_name, error, failed_step, input, …); never from a run that is itself an error circuit's.",
    )
    digest_minutes = serializers.IntegerField(
        required=False, min_value=0, max_value=1440, help_text="One alert per window of this many minutes (default 15; 0 alerts every failure)."
    )


@extend_schema_field(FailurePolicySerializer(allow_null=True))
class FailurePolicyField(serializers.JSONField):
    """A JSON object or null; its contents are checked by the service (UpdateCircuit, UpdateTenantSettings)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object (or null for the tenant's default).")
        return value


class CircuitSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    published_version = serializers.IntegerField(read_only=True, allow_null=True, help_text="Number of the published version, if any.")
    draft_revision = serializers.IntegerField(read_only=True, allow_null=True, help_text="Revision of the draft, if there is one.")
    tags = serializers.ListField(child=serializers.CharField(max_length=50))
    on_failure = FailurePolicyField(read_only=True, allow_null=True, help_text="What happens when an execution fails; null = the tenant's default.")

    class Meta:
        model = Circuit
        fields = [
            "slug",
            "name",
            "description",
            "enabled",
            "tags",
            "on_failure",
            "owner",
            "published_version",
            "draft_revision",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CircuitCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.CharField(max_length=50, required=False, validators=[slug_validator], help_text="Defaults to the slugified name.")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    enabled = serializers.BooleanField(required=False, default=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list, max_length=50)


class CircuitUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    on_failure = FailurePolicyField(
        required=False, allow_null=True, help_text="The circuit's own failure policy; null = the tenant's default, {} = nothing on failure."
    )


class PositionSerializer(StrictSerializer):
    x = FiniteFloatField(required=False, default=0)
    y = FiniteFloatField(required=False, default=0)


class NodeSerializer(StrictSerializer):
    key = serializers.RegexField(r"^[a-z][a-z0-9_]{0,63}$", help_text="Unique in the version; lowercase, digits and underscores.")
    action = serializers.CharField(max_length=100, help_text="A registered action name, see GET /api/v1/actions.")
    label = serializers.CharField(max_length=200, required=False, allow_blank=True)
    config = JSONObjectField(required=False, help_text="The action's config, valid against its JSON Schema.")
    position = PositionSerializer(required=False)
    retry = JSONObjectField(required=False, help_text='{"max_attempts": 3, "backoff_seconds": 1.0, "max_backoff_seconds": 60}')
    timeout_seconds = FiniteFloatField(required=False, allow_null=True, min_value=0)
    on_error = serializers.ChoiceField(choices=OnError.choices, required=False)
    pinned = JSONObjectField(
        required=False,
        allow_null=True,
        help_text='Pinned data, {"output": …, "port": "next"}: test runs use this output instead of running the step; real executions ignore it.',
    )


class EdgeSerializer(StrictSerializer):
    source = serializers.CharField(max_length=64, help_text="A node key, or 'trigger' for where execution starts.")
    port = serializers.CharField(max_length=64, required=False, default="next")
    target = serializers.CharField(max_length=64)


class DocumentSerializer(StrictSerializer):
    nodes = NodeSerializer(many=True, max_length=500)
    edges = EdgeSerializer(many=True, max_length=2000)


class ValidateRequestSerializer(StrictSerializer):
    """Empty: check the saved draft. With `nodes` and `edges`: check that document instead, unsaved."""

    nodes = NodeSerializer(many=True, max_length=500, required=False)
    edges = EdgeSerializer(many=True, max_length=2000, required=False)

    def validate(self, attrs: dict) -> dict:
        if ("nodes" in attrs) != ("edges" in attrs):
            raise serializers.ValidationError("Send both nodes and edges (a document to check), or neither (check the saved draft).")
        return attrs


class DraftSaveSerializer(DocumentSerializer):
    base_revision = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_INT,
        help_text=(
            "The draft revision you edited; a newer draft answers 409 instead of being overwritten. "
            "0: you started from the published version (no draft): a draft made since answers 409."
        ),
    )


class VersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=VersionStatus.choices, read_only=True)

    class Meta:
        model = CircuitVersion
        fields = ["number", "status", "revision", "note", "created_by", "created_at", "updated_at", "published_at"]
        read_only_fields = fields


class VersionDetailSerializer(VersionSerializer):
    """A version with its graph, in the same document shape that PUT …/draft takes."""

    nodes = serializers.SerializerMethodField()
    edges = serializers.SerializerMethodField()
    ports = serializers.SerializerMethodField(
        help_text="Each node's output ports for its config (a switch's cases, a parallel's branches), `error` included: where edges may start."
    )

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "nodes", "edges", "ports"]
        read_only_fields = fields

    def _document(self, version: CircuitVersion) -> dict:
        if not hasattr(version, "_api_document"):
            version._api_document = version_document(version)
        return version._api_document

    @extend_schema_field(NodeSerializer(many=True))
    def get_nodes(self, version: CircuitVersion) -> list[dict]:
        return self._document(version)["nodes"]

    @extend_schema_field(EdgeSerializer(many=True))
    def get_edges(self, version: CircuitVersion) -> list[dict]:
        return self._document(version)["edges"]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}})
    def get_ports(self, version: CircuitVersion) -> dict[str, list[str]]:
        return {n["key"]: node_ports(n["action"], n.get("config")) for n in self._document(version)["nodes"]}


class PublishSerializer(StrictSerializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RollbackSerializer(StrictSerializer):
    version = serializers.IntegerField(min_value=1, max_value=MAX_INT, help_text="The published or archived version to publish again.")


class GraphProblemSerializer(serializers.Serializer):
    message = serializers.CharField()
    node = serializers.CharField(required=False)
    edge = serializers.IntegerField(required=False)
    field = serializers.CharField(required=False)


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    revision = serializers.IntegerField()
    errors = GraphProblemSerializer(many=True)


class TriggerSerializer(serializers.ModelSerializer):
    type = serializers.ChoiceField(choices=trigger_registry.choices(), read_only=True)
    config = serializers.JSONField(read_only=True)
    webhook_url = serializers.SerializerMethodField(help_text="Webhook triggers: the URL to POST to (shown to those who may edit the circuit).")

    class Meta:
        model = Trigger
        fields = ["id", "type", "config", "enabled", "key", "webhook_url", "next_run_at", "last_fired_at", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_webhook_url(self, trigger: Trigger) -> str | None:
        request = self.context.get("request")
        if not trigger.webhook_token or not self.context.get("show_secrets"):
            return None
        path = f"/hooks/{trigger.webhook_token}"
        return request.build_absolute_uri(path) if request is not None else path


class TriggerWriteSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=trigger_registry.choices())
    config = JSONObjectField(required=False, default=dict, help_text="Validated against the type's JSON Schema.")
    enabled = serializers.BooleanField(required=False, default=True)


class TriggerUpdateSerializer(StrictSerializer):
    config = JSONObjectField(required=False)
    enabled = serializers.BooleanField(required=False)


class ImportSerializer(StrictSerializer):
    document = JSONObjectField(help_text="An exported circuit document (format circuitos.circuit/v1).")
    slug = serializers.CharField(max_length=50, required=False, validators=[slug_validator], help_text="Overrides the document's slug.")
    name = serializers.CharField(max_length=200, required=False, help_text="Overrides the document's name.")
