"""Tenant administration: credentials (write-only secrets), members and roles, API keys."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from circuits.tenancy.models.access import ApiKey, Credential, CredentialKind
from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.roles import Perm, Role
from circuits.web.api.serializers.common import JSONObjectField, StrictSerializer


class CredentialSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=CredentialKind.choices, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Credential
        fields = ["name", "kind", "description", "created_by", "created_at", "updated_at"]
        read_only_fields = fields


class CredentialWriteSerializer(StrictSerializer):
    name = serializers.SlugField(max_length=100, help_text="Lowercase letters, digits and hyphens; actions refer to it by this name.")
    kind = serializers.ChoiceField(choices=CredentialKind.choices)
    secret = JSONObjectField(write_only=True, help_text='Never shown again: e.g. {"token": "…"} for http_bearer.')
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class CredentialReplaceSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=CredentialKind.choices)
    secret = JSONObjectField(write_only=True)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)


class MemberSerializer(serializers.ModelSerializer):
    user = UserSerializer(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = fields


class MemberAddSerializer(StrictSerializer):
    identifier = serializers.EmailField(max_length=254, help_text="E-mail address to invite (with or without an account: the answer is the same).")
    role = serializers.ChoiceField(choices=Role.choices)


class MemberRoleSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    expires_at = serializers.DateTimeField()


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    label = serializers.CharField()
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=Perm.choices))


class ApiKeySerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "role", "user", "created_by", "created_at", "expires_at", "revoked_at", "last_used_at", "active"]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_active(self, key: ApiKey) -> bool:
        from django.utils import timezone

        return key.revoked_at is None and (key.expires_at is None or key.expires_at > timezone.now())


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The key itself: shown this once, only its hash is kept.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=Role.choices, help_text="Never above your own role here, nor above the role of the key's user.")
    user = serializers.CharField(
        required=False, max_length=254, help_text="Username or e-mail of the member the key acts as (default: you); only owners name another member."
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Empty: never. When you call with a key that expires, required and no later than that key's expiry."
    )
