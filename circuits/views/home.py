from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import redirect, render

from circuits.models import Circuit, Membership
from circuits.views.base import TenantView, render_page


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
    def get(self, request):
        circuits = Circuit.objects.restrict(request.user, "view", self.tenant)
        context = {
            "circuit_count": circuits.count(),
            "enabled_count": circuits.filter(enabled=True).count(),
            "member_count": Membership.objects.for_tenant(self.tenant).count(),
            "roles": Membership.objects.for_tenant(self.tenant).values("role").annotate(n=Count("pk")).order_by("role"),
        }
        return render_page(request, "circuits/tenant_home.html", context)
