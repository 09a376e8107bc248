from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import ExecutionStatus
from circuits.automation.services import metrics
from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.permissions import has_perm
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.pages.common import format_ms, visible_executions
from circuits.web.views.pages.notifications import my_notifications

RECENT_FIELDS = ("pk", "tenant_id", "status", "error", "created_at", "duration_ms", "is_test", "circuit__id", "circuit__name", "circuit__slug")


@login_required
def home(request):
    """Send the user to the tenant they used last, or their first one."""
    memberships = Membership.objects.filter(user=request.user).select_related("tenant")
    last = request.session.get("tenant")
    chosen = next((m for m in memberships if m.tenant.slug == last), None) or memberships.first()
    if chosen is None:
        return render(request, "circuits/no_tenant.html", status=200)
    return redirect("tenant_home", tenant_slug=chosen.tenant.slug)


class TenantHomeView(TenantView):
    """The overview: what exists, how the last 24 hours went, and what needs attention."""

    def get(self, request):
        circuits = Circuit.objects.restrict(request.user, "view", self.tenant)
        executions = visible_executions(request, self.tenant)
        since = timezone.now() - timedelta(hours=24)
        by_status = dict(executions.filter(created_at__gte=since, is_test=False).values_list("status").annotate(n=Count("pk")).order_by())
        finished = by_status.get(ExecutionStatus.SUCCEEDED, 0) + by_status.get(ExecutionStatus.FAILED, 0)
        recent = list(executions.select_related("circuit").only(*RECENT_FIELDS)[:8])
        failures = list(metrics.open_failures(executions).select_related("circuit").only(*RECENT_FIELDS)[:5])
        for e in (*recent, *failures):
            e.duration_display = format_ms(e.duration_ms)
            e.error_message = (e.error or {}).get("message", "") if isinstance(e.error, dict) else ""
        circuit_counts = circuits.aggregate(total=Count("pk"), enabled=Count("pk", filter=Q(enabled=True)))
        context = {
            "circuit_count": circuit_counts["total"],
            "enabled_count": circuit_counts["enabled"],
            "member_count": Membership.objects.for_tenant(self.tenant).count(),
            "roles": Membership.objects.for_tenant(self.tenant).values("role").annotate(n=Count("pk")).order_by("role"),
            "day_total": sum(by_status.values()),
            "day_failed": by_status.get(ExecutionStatus.FAILED, 0),
            "day_success_pct": round(by_status.get(ExecutionStatus.SUCCEEDED, 0) / finished * 100, 1) if finished else None,
            "active_count": executions.filter(status__in=[ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.WAITING]).count(),
            "recent": recent,
            "failures": failures,
            "unread_count": my_notifications(self.tenant, request.user).filter(seen_at__isnull=True).count(),
            "can_edit": has_perm(request.user, self.tenant, "edit"),
        }
        return render_page(request, "pages/overview.html", context)
