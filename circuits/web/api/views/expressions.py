"""The expression editor's endpoints: a live preview of an expression, and the paths to complete.

Both read the circuit's newest test run (and the draft's pinned data) through
`circuits.automation.services.previews`; nothing is written, so whoever may view the circuit
may call them.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from circuits.automation.services.previews import completion_paths, preview, preview_data
from circuits.tenancy.roles import Perm
from circuits.web.api.serializers.common import StrictSerializer
from circuits.web.api.views.base import CIRCUIT_NAME, ApiView

TAG = ["expressions"]
NODE_KEY = r"^[a-z][a-z0-9_]{0,63}$"


def _max_source_chars() -> int:
    return int(getattr(settings, "EXPRESSION_MAX_SOURCE_CHARS", 20_000))


class TextField(serializers.CharField):
    """Text only: DRF's CharField would take 42 as "42", and a typed expression is never a number."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PreviewRequestSerializer(StrictSerializer):
    expression = TextField(
        allow_blank=True, trim_whitespace=False, help_text="A config value as typed: text with `{{ … }}` / `{% … %}`, or one `{{ expression }}`."
    )
    node = serializers.RegexField(NODE_KEY, required=False, help_text="The step whose field it is: its reads of other steps must be upstream of it.")

    def validate_expression(self, value: str) -> str:
        limit = _max_source_chars()
        if len(value) > limit:
            raise serializers.ValidationError(f"The expression is {len(value):,} characters; at most {limit:,} (EXPRESSION_MAX_SOURCE_CHARS).")
        return value


class NodeQuerySerializer(StrictSerializer):
    node = serializers.RegexField(NODE_KEY)


class PreviewErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    kind = serializers.ChoiceField(["syntax", "sandbox", "unknown_step", "step_order", "scope", "undefined", "limit", "evaluation"])
    start = serializers.IntegerField(help_text="Offset of the first character of the part in error (the `{{ … }}` or the step reference).")
    end = serializers.IntegerField(help_text="Offset just past it.")
    line = serializers.IntegerField(help_text="1-based line of `start`.")


class PreviewResultSerializer(serializers.Serializer):
    value = serializers.JSONField(required=False, help_text="The rendered value (a single `{{ … }}` keeps its type).")
    type = serializers.CharField(required=False, help_text="The value's JSON type: string, number, boolean, null, array or object.")
    truncated = serializers.BooleanField(required=False, help_text="The value was too long: `value` is the start of its JSON text.")
    error = PreviewErrorSerializer(required=False)
    execution = serializers.IntegerField(allow_null=True, help_text="The test run whose data was used (null: none yet).")


class PathSerializer(serializers.Serializer):
    path = serializers.CharField()
    type = serializers.CharField()
    sample = serializers.CharField(required=False)


class PathsSerializer(serializers.Serializer):
    execution = serializers.IntegerField(allow_null=True)
    paths = PathSerializer(many=True)


def _known(node: str | None, data) -> str | None:
    # A step the saved draft does not have yet (added a moment ago): read like no step named.
    return node if node is not None and data.graph is not None and node in data.graph.nodes else None


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class ExpressionPreviewView(ApiView):
    perms = {"POST": Perm.VIEW}  # read-only: renders against data the caller may already see
    serializer_class = PreviewResultSerializer

    @extend_schema(
        summary="Render an expression against the newest test run's data (the builder's live preview)",
        description=(
            "Renders with the engine's sandbox against the context of the circuit's newest test run — `trigger`, "
            "`steps.<key>.output` (a node's pinned data in place of its result), `vars` — on a short time budget. "
            "An expression that fails (syntax, a refused attribute, a step that does not exist or cannot have run before "
            "`node`) is still a 200, with `error` giving its kind and the span to underline."
        ),
        request=PreviewRequestSerializer,
        responses={200: PreviewResultSerializer},
        examples=[
            OpenApiExample("Request", request_only=True, value={"expression": "Hi {{ trigger.name }}", "node": "greet"}),
            OpenApiExample("Value", response_only=True, value={"value": "Hi Ada", "type": "string", "execution": 41}),
            OpenApiExample(
                "Error",
                response_only=True,
                value={
                    "error": {
                        "message": "steps.scroe.output reads step 'scroe', which does not exist — did you mean 'score'?",
                        "kind": "unknown_step",
                        "start": 3,
                        "end": 21,
                        "line": 1,
                    },
                    "execution": 41,
                },
            ),
        ],
    )
    def post(self, request, name: str):
        circuit = self.get_circuit(name)
        body = self.validated(PreviewRequestSerializer)
        data = preview_data(self.tenant, circuit)
        result = preview(body["expression"], data, _known(body.get("node"), data))
        return Response({**result, "execution": data.execution.pk if data.execution else None})


@extend_schema(tags=TAG, parameters=[CIRCUIT_NAME])
class ExpressionPathsView(ApiView):
    perms = {"GET": Perm.VIEW}
    serializer_class = PathsSerializer

    @extend_schema(
        summary="The paths an expression can read, from the newest test run's real data (the editor's autocomplete)",
        parameters=[OpenApiParameter("node", OpenApiTypes.STR, description="Only the steps upstream of this step.")],
        responses={200: PathsSerializer},
        examples=[
            OpenApiExample(
                "Paths",
                response_only=True,
                value={
                    "execution": 41,
                    "paths": [
                        {"path": "trigger", "type": "object"},
                        {"path": "trigger.email", "type": "string", "sample": "ada@example.com"},
                        {"path": "steps.score.output", "type": "object"},
                        {"path": "steps.score.output.score", "type": "number", "sample": "87"},
                        {"path": "vars", "type": "object"},
                    ],
                },
            )
        ],
    )
    def get(self, request, name: str):
        circuit = self.get_circuit(name)
        data = preview_data(self.tenant, circuit)
        node = request.query_params.get("node") or None
        if node is not None:
            node = self.validated(NodeQuerySerializer, {"node": node})["node"]
        return Response({"execution": data.execution.pk if data.execution else None, "paths": completion_paths(data, _known(node, data))})
