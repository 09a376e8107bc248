from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from circuits.models import Circuit, Invitation, Membership, Tenant


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
    list_display = ["email", "tenant", "role", "created_at", "expires_at", "accepted_at"]
    list_filter = ["tenant", "role"]
    search_fields = ["email"]
    readonly_fields = ["token"]


@admin.register(Circuit)
class CircuitAdmin(GuardedModelAdmin):
    """Object permissions (share one circuit beyond the role) via guardian's admin."""

    list_display = ["name", "slug", "tenant", "enabled", "updated_at"]
    list_filter = ["tenant", "enabled"]
    search_fields = ["name", "slug", "description"]
