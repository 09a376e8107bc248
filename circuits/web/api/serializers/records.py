"""Business records (per object type) and the object types themselves."""

from __future__ import annotations

from rest_framework import serializers

from circuits.web.api.serializers.common import FiniteFloatField, StrictSerializer


class RecordSerializer(serializers.Serializer):
    """A record: its fields at the top level, next to these four keys."""

    id = serializers.IntegerField()
    object_type = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RecordPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many records match the filters.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RecordSerializer(many=True)


class UpsertSerializer(StrictSerializer):
    match_on = serializers.ListField(child=serializers.CharField(max_length=63), min_length=1, max_length=10, help_text="Fields that identify the record.")
    data = serializers.DictField(help_text="The record's fields.")


class FieldDefinitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    label = serializers.CharField(required=False)
    required = serializers.BooleanField(required=False)
    default = serializers.JSONField(required=False)
    choices = serializers.ListField(child=serializers.CharField(), required=False)
    min = FiniteFloatField(required=False)
    max = FiniteFloatField(required=False)
    ref = serializers.CharField(required=False)
    description = serializers.CharField(required=False)


class ObjectTypeSerializer(serializers.Serializer):
    slug = serializers.CharField()
    label = serializers.CharField()
    builtin = serializers.BooleanField()
    description = serializers.CharField(allow_blank=True)
    fields = FieldDefinitionSerializer(many=True)
    schema = serializers.JSONField(help_text="JSON Schema of a record's fields.")


class ObjectTypeWriteSerializer(StrictSerializer):
    label = serializers.CharField(max_length=100)
    fields = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=200, help_text='[{"name": "plan", "type": "choice", "choices": ["free", "pro"]}, …]'
    )
