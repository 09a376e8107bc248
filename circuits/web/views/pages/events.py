"""Events log: published platform events, the executions each started, and a test publisher."""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import redirect

from circuits.automation.engine.limits import Limits
from circuits.automation.models.trigger import Event
from circuits.automation.services.tenant_settings import DefineCustomEvent
from circuits.automation.triggers.catalogue import catalogue, require_known
from circuits.automation.triggers.kinds.event import publish_event
from circuits.tenancy.permissions import has_perm
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.form_errors import apply_errors
from circuits.web.views.pages.common import paginate, parse_json_object, pretty_json, query_without, visible_executions

EVENT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}$")
EXECUTIONS_PER_EVENT = 20  # shown under each event; the executions list has the rest


class PublishEventForm(forms.Form):
    name = forms.CharField(label="Event name", max_length=200, widget=forms.TextInput(attrs={"list": "event-names", "autocomplete": "off"}))
    payload = forms.CharField(
        label="Payload (JSON object)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "placeholder": '{"email": "ada@example.com"}'}),
    )

    def __init__(self, *args, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not EVENT_NAME.match(name):
            raise ValidationError("Use letters, digits, dots, dashes, colons and underscores (e.g. lead.created).")
        return name

    def clean_payload(self) -> dict:
        try:
            return parse_json_object(self.cleaned_data.get("payload", ""), "payload", max_bytes=self.max_bytes)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["payload"]) from None


class CustomEventForm(forms.Form):
    name = forms.CharField(label="New event name", max_length=200, help_text="Lowercase words joined by dots, e.g. deal.escalated")
    description = forms.CharField(label="What it means", max_length=500, required=False)


class EventFilterForm(forms.Form):
    name = forms.CharField(required=False, max_length=200, label="Event name", widget=forms.TextInput(attrs={"list": "event-names", "type": "search"}))
    source = forms.CharField(required=False, max_length=200, label="Source contains", widget=forms.TextInput(attrs={"type": "search"}))


class EventListView(TenantView):
    def context(self, publish_form=None, custom_form=None) -> dict:
        request = self.request
        filters = EventFilterForm(request.GET or None)
        events = Event.objects.for_tenant(self.tenant)
        if filters.is_valid():
            if filters.cleaned_data["name"]:
                events = events.filter(name=filters.cleaned_data["name"].strip())
            if filters.cleaned_data["source"]:
                events = events.filter(source__icontains=filters.cleaned_data["source"].strip())
        started = (
            visible_executions(request, self.tenant)
            .select_related("circuit")
            .only("pk", "tenant_id", "event_id", "status", "duration_ms", "created_at", "circuit__id", "circuit__slug", "circuit__name")
        )
        # The page's executions come in one prefetch query, not one per event.
        page = paginate(request, events.prefetch_related(Prefetch("executions", queryset=started.order_by("pk"))))
        items = []
        for event in page.object_list:
            executions = list(event.executions.all())
            items.append(
                {
                    "event": event,
                    "payload_json": pretty_json(event.payload),
                    "executions": executions[:EXECUTIONS_PER_EVENT],
                    "more": max(0, len(executions) - EXECUTIONS_PER_EVENT),
                }
            )
        return {
            "page": page,
            "items": items,
            "filters": filters,
            "filters_query": query_without(request, "page"),
            "catalogue": catalogue(self.tenant),
            "can_publish": has_perm(request.user, self.tenant, "run"),
            "publish_form": publish_form or PublishEventForm(max_bytes=Limits.for_tenant(self.tenant).max_payload_bytes),
            "can_define": has_perm(request.user, self.tenant, "manage_settings"),
            "custom_form": custom_form or CustomEventForm(),
        }

    def get(self, request):
        return render_page(request, "pages/events/list.html", self.context(), partial="pages/events/_results.html")

    def post(self, request):
        self.require("run")
        form = PublishEventForm(request.POST, max_bytes=Limits.for_tenant(self.tenant).max_payload_bytes)
        if form.is_valid():
            try:
                require_known(self.tenant, form.cleaned_data["name"], field="name")
                event, started = publish_event(
                    self.tenant, form.cleaned_data["name"], form.cleaned_data["payload"], source=f"test:{request.user.get_username()}"
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                count = len(started)
                messages.success(request, f"Published {event.name} (event #{event.pk}); it started {count} execution{'s' if count != 1 else ''}.")
                return redirect("event_list", tenant_slug=self.tenant.slug)
        return render_page(request, "pages/events/list.html", self.context(form), status=400)


class CustomEventView(EventListView):
    """Owners and admins add their own event names to the catalogue."""

    def post(self, request):
        form = CustomEventForm(request.POST)
        if form.is_valid():
            try:
                event_type = DefineCustomEvent(self.tenant, request.user, **form.cleaned_data).execute()
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, f"{event_type.name} is now in the event catalogue.")
                return redirect("event_list", tenant_slug=self.tenant.slug)
        return render_page(request, "pages/events/list.html", self.context(custom_form=form), status=400)
