"""Serializer pieces shared by every resource: strict input and the problem document."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from circuits.core.numbers import finite_number

# Ids and numbers are stored in 64-bit columns; a bigger number is bad input, not a crash.
MAX_INT = 2**31 - 1


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses fields it does not know (naming each one)."""

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {}
        if isinstance(data, dict):
            known = ", ".join(name for name, f in self.fields.items() if not f.read_only) or "none"
            errors = {str(k): [f"Unknown field; this accepts: {known}."] for k in data if k not in self.fields or self.fields[k].read_only}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # Report the unknown fields together with the known fields' errors.
            if errors and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **errors}) from None
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return value


class EmptySerializer(StrictSerializer):
    """An action that takes no input (an empty body or `{}`)."""


class JSONObjectField(serializers.JSONField):
    """A JSON object (not a list, string or number)."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class FiniteFloatField(serializers.FloatField):
    """A float that refuses NaN and ±infinity (which pass every min/max check) with a 400 naming the field."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, str) and len(data) > self.MAX_STRING_LENGTH:
            self.fail("max_string_length")
        try:
            return float(finite_number(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)[:200]) from None


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details: every error answer of the API."""

    type = serializers.CharField(help_text="A URI naming the kind of problem (`about:blank` when the status says it all).")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False, help_text="Field errors: {field: [messages]}.")
    graph_errors = serializers.ListField(child=serializers.DictField(), required=False, help_text="Graph problems, each naming its node/edge.")
    line = serializers.IntegerField(required=False, help_text="Malformed JSON: the line of the error.")
    column = serializers.IntegerField(required=False, help_text="Malformed JSON: the column of the error.")
    retry_after = serializers.IntegerField(required=False, help_text="Throttled: seconds until a retry may succeed.")
