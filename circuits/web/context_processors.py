from circuits.tenancy.models.tenants import Membership


def tenancy(request):
    """Tenant switcher entries and the current tenant for the base layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = list(Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name"))
    return {
        "my_memberships": memberships,
        "tenant": getattr(request, "tenant", None),
        "my_role": getattr(request, "role", None),
    }
