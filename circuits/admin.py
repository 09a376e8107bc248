from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, StepRun
from circuits.automation.models.trigger import CustomEventType, Event, ThresholdState, Trigger
from circuits.automation.models.version import FROZEN_STATUSES, CircuitVersion, Edge, Node
from circuits.records.models import ObjectType, Record, RecordChange
from circuits.tenancy.models.access import ApiKey, Credential
from circuits.tenancy.models.audit import AuditEntry
from circuits.tenancy.models.effects import AppliedWrite
from circuits.tenancy.models.notifications import InboxMessage, Notification, NotificationRead
from circuits.tenancy.models.tenants import Invitation, Membership, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["tenant", "role"]
    search_fields = ["user__username", "user__email", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "role", "created_at", "expires_at", "accepted_at", "declined_at"]
    list_filter = ["tenant", "role"]
    search_fields = ["email"]
    readonly_fields = ["token"]


@admin.register(Circuit)
class CircuitAdmin(GuardedModelAdmin):
    """Object permissions (share one circuit beyond the role) via guardian's admin."""

    list_display = ["name", "slug", "tenant", "enabled", "updated_at"]
    list_filter = ["tenant", "enabled"]
    search_fields = ["name", "slug", "description"]


def _frozen(version: CircuitVersion | None) -> bool:
    """A published (or archived) version: the models refuse changes, so the admin offers none."""
    return version is not None and version.pk is not None and version.status in FROZEN_STATUSES


class _GraphInline(admin.TabularInline):
    extra = 0

    # `obj` is the version being shown.
    def has_add_permission(self, request, obj=None) -> bool:
        return not _frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return not _frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not _frozen(obj) and super().has_delete_permission(request, obj)


class NodeInline(_GraphInline):
    model = Node
    fields = ["key", "action", "label", "on_error", "timeout_seconds"]


class EdgeInline(_GraphInline):
    model = Edge
    fk_name = "version"
    raw_id_fields = ["source", "target"]


@admin.register(CircuitVersion)
class CircuitVersionAdmin(admin.ModelAdmin):
    list_display = ["circuit", "number", "status", "created_at", "published_at"]
    list_filter = ["tenant", "status"]
    search_fields = ["circuit__name", "note"]
    inlines = [NodeInline, EdgeInline]

    def has_change_permission(self, request, obj=None) -> bool:
        # Published versions are shown read-only; publishing and rolling back are the app's job.
        return not _frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not _frozen(obj) and super().has_delete_permission(request, obj)


class _GraphRowAdmin(admin.ModelAdmin):
    def has_change_permission(self, request, obj=None) -> bool:
        return not (obj is not None and _frozen(obj.version)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not (obj is not None and _frozen(obj.version)) and super().has_delete_permission(request, obj)


@admin.register(Node)
class NodeAdmin(_GraphRowAdmin):
    list_display = ["key", "action", "version"]
    list_filter = ["version__tenant", "action"]
    search_fields = ["key", "label", "action"]


@admin.register(Edge)
class EdgeAdmin(_GraphRowAdmin):
    list_display = ["__str__", "version"]
    list_filter = ["version__tenant"]
    raw_id_fields = ["source", "target", "version"]


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ["circuit", "type", "key", "enabled", "next_run_at", "last_fired_at"]
    list_filter = ["tenant", "type", "enabled"]
    search_fields = ["key", "circuit__name"]
    readonly_fields = ["webhook_token"]


@admin.register(ThresholdState)
class ThresholdStateAdmin(admin.ModelAdmin):
    list_display = ["trigger", "record", "above"]
    list_filter = ["trigger__tenant"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "source", "created_at"]
    list_filter = ["tenant", "name"]
    search_fields = ["name", "source"]


@admin.register(CustomEventType)
class CustomEventTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["name"]


@admin.register(ObjectType)
class ObjectTypeAdmin(admin.ModelAdmin):
    list_display = ["slug", "label", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["slug", "label"]


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ["pk", "object_type", "tenant", "created_at", "updated_at"]
    list_filter = ["tenant", "object_type"]
    search_fields = ["object_type"]


@admin.register(RecordChange)
class RecordChangeAdmin(admin.ModelAdmin):
    list_display = ["record", "operation", "actor", "created_at"]
    list_filter = ["tenant", "operation", "object_type"]


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    fields = ["node_key", "scope", "attempt", "status", "port", "duration_ms"]
    readonly_fields = fields
    can_delete = False


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = ["pk", "circuit", "status", "trigger_type", "created_at", "duration_ms"]
    list_filter = ["tenant", "status", "trigger_type"]
    search_fields = ["=id", "circuit__name"]
    raw_id_fields = ["version", "trigger", "event", "parent", "rerun_of"]
    inlines = [StepRunInline]


@admin.register(StepRun)
class StepRunAdmin(admin.ModelAdmin):
    list_display = ["execution", "node_key", "attempt", "status", "duration_ms"]
    list_filter = ["execution__tenant", "status"]
    search_fields = ["node_key"]
    raw_id_fields = ["execution"]


@admin.register(AppliedWrite)
class AppliedWriteAdmin(admin.ModelAdmin):
    list_display = ["key", "operation", "record_key", "tenant", "created_at"]
    list_filter = ["tenant", "operation"]
    search_fields = ["=key"]
    readonly_fields = ["tenant", "key", "operation", "record_key", "result", "created_at"]


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    """Secrets are write-only: the admin shows metadata, never the encrypted value."""

    list_display = ["name", "kind", "tenant", "updated_at"]
    list_filter = ["tenant", "kind"]
    search_fields = ["name"]
    exclude = ["encrypted"]
    readonly_fields = ["kind"]

    def has_add_permission(self, request):
        return False  # created through Settings → Credentials, where the secret is encrypted


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "tenant", "user", "level", "created_at", "read_at"]
    list_filter = ["tenant", "level"]
    search_fields = ["title", "body"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "tenant", "role", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["tenant", "role"]
    search_fields = ["name", "prefix"]
    exclude = ["hashed_key"]
    readonly_fields = ["prefix"]

    def has_add_permission(self, request):
        return False  # created with `manage.py createapikey` or in Settings, where the key is shown once


@admin.register(InboxMessage)
class InboxMessageAdmin(admin.ModelAdmin):
    list_display = ["channel", "tenant", "received_at"]
    list_filter = ["tenant", "channel"]


@admin.register(NotificationRead)
class NotificationReadAdmin(admin.ModelAdmin):
    list_display = ["notification", "user", "read_at"]
    list_filter = ["notification__tenant"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only for everyone, platform staff included."""

    list_display = ("created_at", "tenant", "actor", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type")
    search_fields = ("actor", "object_repr", "object_id", "request_id")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
