"""The action registry: every action with its config JSON Schema, output schema and ports."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from actions.sdk.registry import CATEGORIES, all_actions
from circuits.web.api.views.base import ApiView


class ActionSerializer(serializers.Serializer):
    name = serializers.CharField()
    category = serializers.ChoiceField(choices=CATEGORIES)
    label = serializers.CharField()
    description = serializers.CharField()
    schema = serializers.JSONField(help_text="JSON Schema of the action's config.")
    output_schema = serializers.JSONField(allow_null=True)
    ports = serializers.ListField(child=serializers.CharField())
    side_effects = serializers.BooleanField()
    container = serializers.BooleanField()


@extend_schema(tags=["actions"])
class ActionListView(ApiView):
    serializer_class = ActionSerializer

    @extend_schema(
        summary="The action registry with each action's config JSON Schema",
        parameters=[OpenApiParameter("category", OpenApiTypes.STR, enum=list(CATEGORIES), description="Only this category.")],
        responses={200: ActionSerializer(many=True)},
        examples=[
            OpenApiExample(
                "util.log",
                response_only=True,
                value=[
                    {
                        "name": "util.log",
                        "category": "util",
                        "label": "Log",
                        "description": "Writes a line to the execution's log.",
                        "schema": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
                        "output_schema": {},
                        "ports": ["next"],
                        "side_effects": False,
                        "container": False,
                    }
                ],
            )
        ],
    )
    def get(self, request):
        category = request.query_params.get("category")
        actions = [a.describe() for a in all_actions() if category in (None, a.category)]
        return Response(ActionSerializer(actions, many=True).data)
