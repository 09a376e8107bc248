"""Executions: the filtered, live list with bulk actions, and one execution's page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone

from circuits.automation.dispatch import published_version
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import FINISHED, Execution, ExecutionStatus, StepRun, StepStatus
from circuits.automation.services.executions import CancelExecution, RerunExecution, RetryFromFailedStep, RetryVersion
from circuits.automation.services.versions import version_document
from circuits.automation.triggers import registry as trigger_registry
from circuits.core.numbers import is_id
from circuits.tenancy.permissions import has_perm
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.pages.common import PAGE_SIZE, format_ms, paginate, pretty_json, query_without, safe_next, visible_executions

MAX_BULK = 200  # one bulk request re-runs or cancels at most this many executions
MAX_LIVE_IDS = 100  # rows the live list may ask for in one request
MAX_TIMELINE_STEPS = 500  # step runs drawn on the timeline (loops can make thousands)
LIST_FIELDS = (
    "pk",
    "tenant_id",
    "status",
    "trigger_type",
    "is_test",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "rerun_of_id",
    "circuit__id",
    "circuit__name",
    "circuit__slug",
    "version__id",
    "version__number",
)


def builder_url(tenant_slug: str, execution: Execution) -> str:
    """The builder, opened on the version that ran with this execution's path highlighted."""
    return f"/t/{tenant_slug}/circuits/{execution.circuit.slug}/edit?version={execution.version.number}&execution={execution.pk}"


class ExecutionFilterForm(forms.Form):
    circuit = forms.ChoiceField(required=False, label="Circuit")
    status = forms.ChoiceField(required=False, label="Status", choices=[("", "Any status"), *ExecutionStatus.choices])
    trigger = forms.ChoiceField(required=False, label="Trigger", choices=[("", "Any trigger"), *trigger_registry.choices()])
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(required=False, max_length=200, label="Search", widget=forms.TextInput(attrs={"type": "search", "placeholder": "Id or payload text…"}))

    def __init__(self, *args, circuits: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["circuit"].choices = [("", "All circuits"), *circuits]

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data


def filter_executions(qs, data: dict):
    """Apply the cleaned filter form to an execution queryset."""
    if data.get("circuit"):
        qs = qs.filter(circuit__slug=data["circuit"])
    if data.get("status"):
        qs = qs.filter(status=data["status"])
    if data.get("trigger"):
        qs = qs.filter(trigger_type=data["trigger"])
    tz = timezone.get_current_timezone()
    if data.get("since"):
        qs = qs.filter(created_at__gte=datetime.combine(data["since"], time.min, tzinfo=tz))
    if data.get("until"):
        # "To" is inclusive: everything before the next midnight.
        qs = qs.filter(created_at__lt=datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=tz))
    q = (data.get("q") or "").strip()
    if q:
        # The payload as JSON text: one search box finds ids and any value in the input.
        match = Q(input_text__icontains=q)
        if is_id(q.lstrip("#")):
            match |= Q(pk=int(q.lstrip("#")))
        qs = qs.annotate(input_text=Cast("input", TextField())).filter(match)
    return qs


def decorate(executions) -> list[Execution]:
    """Display values computed once in Python (templates have no duration filter)."""
    rows = list(executions)
    for e in rows:
        e.duration_display = format_ms(e.duration_ms)
        e.error_message = (e.error or {}).get("message", "") if isinstance(e.error, dict) else ""
    return rows


class ExecutionListView(TenantView):
    """Filters, search, pagination; `?ids=` returns only those rows (for the live list)."""

    def get(self, request):
        circuits = list(Circuit.objects.restrict(request.user, "view", self.tenant).order_by("name").values_list("slug", "name"))
        form = ExecutionFilterForm(request.GET or None, circuits=circuits)
        valid = form.is_valid() if request.GET else True
        data = form.cleaned_data if request.GET and valid else {}
        qs = visible_executions(request, self.tenant).select_related("circuit", "version").only(*LIST_FIELDS)
        qs = filter_executions(qs, data) if valid else qs.none()
        can_run = has_perm(request.user, self.tenant, "run")
        context = {"form": form, "can_run": can_run, "filters": query_without(request, "page", "ids"), "live": True}
        if "ids" in request.GET:
            ids = [int(i) for i in request.GET["ids"].split(",") if is_id(i.strip())][:MAX_LIVE_IDS]
            context["executions"] = decorate(qs.filter(pk__in=ids))
            return render_page(request, "pages/executions/_rows.html", context)
        page = paginate(request, qs)
        context.update(page=page, executions=decorate(page.object_list))
        # Live rows are only prepended on the first page (later pages would shift under the reader).
        context["live"] = page.number == 1
        return render_page(request, "pages/executions/list.html", context, partial="pages/executions/_results.html", status=200 if valid else 400)


class ExecutionBulkView(TenantView):
    """Re-run or cancel the checked executions (operators and up), one service call each."""

    required_perm = "run"

    def post(self, request):
        action = request.POST.get("action")
        ids = [int(i) for i in request.POST.getlist("ids") if is_id(str(i))]
        problem = None
        if action not in ("rerun", "cancel"):
            problem = "action: choose rerun or cancel."
        elif not ids:
            problem = "ids: select at least one execution."
        elif len(ids) > MAX_BULK:
            problem = f"ids: select at most {MAX_BULK} executions at once."
        if problem:
            messages.error(request, problem)
            return self._answer(request, status=400, text=problem)
        service_class = RerunExecution if action == "rerun" else CancelExecution
        done, refused = [], []
        found = {e.pk: e for e in visible_executions(request, self.tenant).filter(pk__in=ids).select_related("circuit", "version")}
        for pk in ids:
            execution = found.get(pk)
            if execution is None:
                refused.append(f"#{pk}: not found.")
                continue
            try:
                service_class(self.tenant, request.user, execution).execute()
            except ValidationError as exc:
                refused.append(f"#{pk}: {' '.join(exc.messages)}")
            except PermissionDenied as exc:
                refused.append(f"#{pk}: {exc}")
            else:
                done.append(pk)
        if done:
            verb = "Re-ran" if action == "rerun" else "Cancelled"
            messages.success(request, f"{verb} {len(done)} execution{'s' if len(done) != 1 else ''}.")
        for reason in refused[:20]:
            messages.warning(request, reason)
        if len(refused) > 20:
            messages.warning(request, f"…and {len(refused) - 20} more could not be changed.")
        return self._answer(request)

    def _answer(self, request, status: int = 200, text: str = "") -> HttpResponse:
        target = safe_next(request, reverse("execution_list", kwargs={"tenant_slug": self.tenant.slug}))
        if request.htmx:
            # htmx then GETs the list into the results area (rows refreshed, messages shown).
            response = HttpResponse(text, status=status)
            response["HX-Location"] = json.dumps({"path": target, "target": "#exec-results", "swap": "outerHTML"})
            return response
        if status != 200:
            return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
        return redirect(target)


@dataclass
class Bar:
    step: StepRun
    left: str  # CSS percentages as text: never localised (a decimal comma would break the style)
    width: str
    duration: str
    running: bool


@dataclass
class Lane:
    node: str
    scope: str
    bars: list[Bar]


def timeline(execution: Execution, steps: list[StepRun], now: datetime) -> dict:
    """Lanes of bars (one lane per node and scope, one bar per attempt) on a shared time axis."""
    timed = [s for s in steps if s.started_at]
    if not timed:
        return {"lanes": [], "ticks": [], "total": "—"}
    start = min([execution.started_at or timed[0].started_at, *(s.started_at for s in timed)])
    ends = [s.finished_at or now for s in timed]
    end = max([execution.finished_at or (now if not execution.is_finished else max(ends)), *ends])
    span = max((end - start).total_seconds() * 1000, 1.0)
    lanes: dict[tuple[str, str], Lane] = {}
    for s in timed:
        finish = s.finished_at or (now if s.status in (StepStatus.RUNNING, StepStatus.WAITING) else s.started_at)
        offset = (s.started_at - start).total_seconds() * 1000
        length = s.duration_ms if s.duration_ms is not None and s.finished_at else (finish - s.started_at).total_seconds() * 1000
        lane = lanes.setdefault((s.node_key, s.scope), Lane(node=s.node_key, scope=s.scope, bars=[]))
        lane.bars.append(
            Bar(
                step=s,
                left=f"{min(offset / span * 100, 99.5):.3f}",
                # A visible sliver even for sub-millisecond steps.
                width=f"{max(min(length / span * 100, 100 - offset / span * 100), 0.4):.3f}",
                duration=format_ms(length),
                running=s.finished_at is None,
            )
        )
    ticks = [{"at": str(pct), "label": format_ms(span * pct / 100)} for pct in (0, 25, 50, 75, 100)]
    return {"lanes": list(lanes.values()), "ticks": ticks, "total": format_ms(span)}


def log_lines(logs: list | None) -> str:
    """A step's log entries one a line, `[level] message` — as the builder's run panel shows them."""
    return "\n".join(f"[{entry.get('level', '')}] {entry.get('message', '')}" for entry in logs or [] if isinstance(entry, dict))


class ExecutionDetailView(TenantView):
    """One execution: timeline, steps with inputs/outputs, errors, actions; htmx gets the live part."""

    def get(self, request, pk: int):
        execution = get_object_or_404(
            visible_executions(request, self.tenant).select_related("circuit", "version", "event", "rerun_of", "parent", "started_by", "trigger"),
            pk=pk,
        )
        ordered = StepRun.objects.filter(execution=execution).order_by(F("started_at").asc(nulls_last=True), "pk")
        steps = list(ordered[: MAX_TIMELINE_STEPS + 1])
        truncated = len(steps) > MAX_TIMELINE_STEPS
        steps = steps[:MAX_TIMELINE_STEPS]
        seen_nodes: set[str] = set()
        for s in steps:
            s.first_of_node = s.node_key not in seen_nodes
            seen_nodes.add(s.node_key)
            s.duration_display = format_ms(s.duration_ms)
            s.input_json = pretty_json(s.input) if s.input is not None else ""
            s.output_json = pretty_json(s.output) if s.output is not None else ""
            s.error_json = pretty_json(s.error) if s.error else ""
            s.logs_text = log_lines(s.logs)
        can_run = has_perm(request.user, self.tenant, "run", execution.circuit)
        can_retry = can_run and execution.status in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)
        published = published_version(execution.circuit) if can_retry else None
        context = {
            "execution": execution,
            "steps": steps,
            "steps_truncated": truncated,
            "timeline": timeline(execution, steps, timezone.now()),
            "duration": format_ms(execution.duration_ms),
            "input_json": pretty_json(execution.input),
            "output_json": pretty_json(execution.output) if execution.output is not None else "",
            "error_json": pretty_json(execution.error) if execution.error else "",
            "vars_json": pretty_json(execution.vars) if execution.vars else "",
            "builder_url": builder_url(self.tenant.slug, execution),
            "reruns": list(execution.reruns.order_by("-pk").values("pk", "status", "created_at")[:20]),
            "can_rerun": can_run and execution.status in FINISHED,
            "can_retry": can_retry,
            # The second choice only when there is another version to retry on (a fix published since).
            "retry_published": published if published is not None and published.pk != execution.version_id else None,
            "can_cancel": can_run and execution.status not in FINISHED,
        }
        context["step_states"] = [{"node": s.node_key, "status": s.status, "port": s.port} for s in steps]
        if not request.htmx:  # the graph is drawn once; the live part refreshes only its states
            context["graph"] = execution_graph(execution)
        return render_page(request, "pages/executions/detail.html", context, partial="pages/executions/_live.html")


def execution_graph(execution: Execution) -> dict:
    """What the execution page draws: the version it ran, with each action's label and family."""
    from circuits.web.views.builder.views import action_catalogue, node_ports

    document = version_document(execution.version)
    used = {n["action"] for n in document["nodes"]}
    return {
        "document": document,
        "ports": {n["key"]: node_ports(n["action"], n["config"]) for n in document["nodes"]},
        "actions": {a["name"]: {"label": a["label"], "category": a["category"], "container": a["container"]} for a in action_catalogue() if a["name"] in used},
        "trigger": trigger_registry.label(execution.trigger_type) if execution.trigger_type else "Trigger",
    }


class ExecutionActionView(TenantView):
    """Re-run, retry from the failed step, or cancel one execution (operators and up).

    "run" is checked on the execution's circuit, so an object grant on one circuit counts
    too, exactly like the buttons shown on the execution page.
    """

    services = {"rerun": RerunExecution, "retry": RetryFromFailedStep, "cancel": CancelExecution}

    def post(self, request, pk: int, action: str):
        execution = get_object_or_404(visible_executions(request, self.tenant).select_related("circuit", "version"), pk=pk)
        service_class = self.services.get(action)
        if service_class is None:
            return HttpResponse("Unknown action.", status=404)
        self.require("run", execution.circuit)
        options = {"version": request.POST.get("version") or RetryVersion.ORIGINAL} if action == "retry" else {}
        try:
            result = service_class(self.tenant, request.user, execution, **options).execute()
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return self._go(request, execution.pk)  # the page shows why
        if action == "cancel":
            messages.success(request, f"Execution #{execution.pk} cancelled.")
            return self._go(request, execution.pk)
        if action == "rerun":
            verb = "Re-running"
        elif result.version_id == execution.version_id:
            verb = f"Retrying from the failed step on v{result.version.number}"
        else:
            verb = f"Retrying from the failed step on the published v{result.version.number}"
        messages.success(request, f"{verb}: execution #{result.pk} started from #{execution.pk}.")
        return self._go(request, result.pk)

    def _go(self, request, pk: int) -> HttpResponse:
        """To the execution's page: htmx is told to go there (HX-Redirect); a plain form is redirected."""
        target = reverse("execution_detail", kwargs={"tenant_slug": self.tenant.slug, "pk": pk})
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)


__all__ = ["PAGE_SIZE", "ExecutionActionView", "ExecutionBulkView", "ExecutionDetailView", "ExecutionListView"]
