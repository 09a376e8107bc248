"""In-app notifications: the list, mark-as-read, and the bell in the top bar."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, When
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from circuits.automation.notifications import link_error
from circuits.core.numbers import is_id
from circuits.tenancy.models.notifications import Notification, NotificationRead
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.pages.common import paginate, safe_next

BELL_ITEMS = 5


def with_safe_links(notifications) -> list[Notification]:
    """Links are checked when notifications are created; checked again before becoming an href."""
    rows = list(notifications)
    for n in rows:
        n.safe_link = n.link if n.link and link_error(n.link) is None else ""
    return rows


def my_notifications(tenant, user) -> QuerySet:
    """This member's notifications in `tenant`: addressed to them, or to everyone (user empty).

    `seen_at` is when *this member* read it: the row's `read_at` for a personal notification,
    their NotificationRead for one addressed to everyone (each member reads it for themself).
    """
    mine = NotificationRead.objects.filter(user=user, notification=OuterRef("pk")).values("read_at")[:1]
    return (
        Notification.objects.for_tenant(tenant)
        .filter(Q(user=user) | Q(user__isnull=True))
        .annotate(seen_at=Case(When(user__isnull=True, then=Subquery(mine)), default=F("read_at")))
    )


def mark_read(notifications: QuerySet, user) -> int:
    now = timezone.now()
    personal = notifications.filter(user=user).update(read_at=now)
    broadcast = list(notifications.filter(user__isnull=True).values_list("pk", flat=True))
    NotificationRead.objects.bulk_create([NotificationRead(notification_id=pk, user=user, read_at=now) for pk in broadcast], ignore_conflicts=True)
    return personal + len(broadcast)


def render_list(request, tenant, unread_only: bool):
    qs = my_notifications(tenant, request.user)
    if unread_only:
        qs = qs.filter(seen_at__isnull=True)
    page = paginate(request, qs)
    context = {
        "page": page,
        "notifications": with_safe_links(page.object_list),
        "unread_only": unread_only,
        "unread_count": my_notifications(tenant, request.user).filter(seen_at__isnull=True).count(),
    }
    return render_page(request, "pages/notifications/list.html", context, partial="pages/notifications/_results.html")


class NotificationListView(TenantView):
    def get(self, request):
        return render_list(request, self.tenant, request.GET.get("unread") == "1")


class NotificationReadView(TenantView):
    """Mark some (`ids`) or all (`all=1`) of the member's unread notifications as read."""

    def post(self, request):
        qs = my_notifications(self.tenant, request.user).filter(seen_at__isnull=True)
        if request.POST.get("all") != "1":
            ids = [int(i) for i in request.POST.getlist("ids") if is_id(str(i))]
            if not ids:
                problem = "ids: choose the notifications to mark as read."
                if request.htmx:
                    messages.error(request, problem)
                    return render_list(request, self.tenant, request.POST.get("unread") == "1")
                return HttpResponse(problem, status=400, content_type="text/plain; charset=utf-8")
            qs = qs.filter(pk__in=ids)
        count = mark_read(qs, request.user)
        if request.htmx:
            # The list redraws in place; the bell listens for the trigger and reloads its count.
            response = render_list(request, self.tenant, request.POST.get("unread") == "1")
            response["HX-Trigger"] = "notifications-changed"
            return response
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")
        return redirect(safe_next(request, reverse("notification_list", kwargs={"tenant_slug": self.tenant.slug})))


class NotificationBellView(TenantView):
    """The bell's badge and the latest few notifications (loaded by htmx on every page)."""

    def get(self, request):
        qs = my_notifications(self.tenant, request.user)
        unread = qs.filter(seen_at__isnull=True)
        context = {"unread_count": unread.count(), "latest": with_safe_links(unread[:BELL_ITEMS])}
        return render_page(request, "pages/notifications/_bell.html", context, partial="pages/notifications/_bell.html")
