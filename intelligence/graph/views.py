"""Pages of the knowledge graph: the entity list (search, add) and one entity's page — its
neighbourhood drawn with Cytoscape.js, its relations with their evidence, its competitors
and the suggestions touching it, to accept or reject. Same services as the API."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path

from circuits.tenancy.permissions import has_perm
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.form_errors import error_messages
from intelligence.graph.inference import infer
from intelligence.graph.models import Entity, Relation, Suggestion, SuggestionStatus
from intelligence.graph.queries import competitors, subgraph
from intelligence.graph.services import DecideSuggestion, UpsertEntity
from intelligence.graph.types import kinds

PAGE_SIZE = 100
RELATIONS_SHOWN = 200


def _entity(view: TenantView, pk: int) -> Entity:
    entity = Entity.objects.for_tenant(view.tenant).filter(pk=pk).first()
    if entity is None:  # another tenant's entity is exactly as absent as a missing one
        raise Http404("No such entity.")
    return entity


class EntityListView(TenantView):
    def context(self, **extra) -> dict:
        q, kind = self.request.GET.get("q", "").strip()[:200], self.request.GET.get("kind", "")
        entities = Entity.objects.for_tenant(self.tenant).order_by("kind", "name")
        if q:
            entities = entities.filter(name__icontains=q)
        if kind:
            entities = entities.filter(kind=kind)
        return {
            "entities": list(entities[:PAGE_SIZE]),
            "total": entities.count(),
            "q": q,
            "kind": kind,
            "kinds": kinds(self.tenant),
            "pending": Suggestion.objects.for_tenant(self.tenant).filter(status=SuggestionStatus.PENDING).count(),
            "can_edit": has_perm(self.request.user, self.tenant, "edit"),
            **extra,
        }

    def get(self, request):
        return render_page(request, "graph/entities.html", self.context())

    def post(self, request):
        self.require("edit")
        try:
            entity, created = UpsertEntity(self.tenant, request.user, kind=request.POST.get("kind", ""), name=request.POST.get("name", "")).execute()
        except ValidationError as exc:
            return render_page(request, "graph/entities.html", self.context(errors=error_messages(exc)), status=400)
        messages.success(request, f"{'Added' if created else 'Found'} {entity.name}.")
        return redirect("graph_entity", self.tenant.slug, entity.pk)


class EntityDetailView(TenantView):
    def get(self, request, pk: int):
        entity = _entity(self, pk)
        graph = subgraph(self.tenant, entity, depth=2, limit=80)
        relations = Relation.objects.for_tenant(self.tenant).filter(source=entity).select_related("target") | Relation.objects.for_tenant(self.tenant).filter(
            target=entity
        ).select_related("source")
        suggestions = Suggestion.objects.for_tenant(self.tenant).filter(status=SuggestionStatus.PENDING).filter(source=entity).select_related(
            "source", "target"
        ) | Suggestion.objects.for_tenant(self.tenant).filter(status=SuggestionStatus.PENDING).filter(target=entity).select_related("source", "target")
        relations = relations.select_related("source", "target").order_by("type", "id")
        context = {
            "entity": entity,
            "graph": graph,
            # A hub (a region every company is in) has thousands: the page lists the first ones.
            "relations": relations[:RELATIONS_SHOWN],
            "relations_total": relations.count(),
            "competitors": competitors(self.tenant, entity) if entity.kind in ("company", "product") else [],
            "suggestions": suggestions.order_by("-score", "id")[:20],
            "can_edit": has_perm(request.user, self.tenant, "edit"),
            # Drawn only when the npm package is installed (settings.NPM_STATIC); the tables work without it.
            "cytoscape": (settings.NODE_MODULES_DIR / settings.NPM_STATIC["cytoscape"] / "cytoscape.min.js").is_file(),
        }
        return render_page(request, "graph/entity.html", context)


class SuggestView(TenantView):
    required_perm = "edit"

    def post(self, request, pk: int):
        entity = _entity(self, pk)
        types = ["competes_with"] if entity.kind in ("company", "product") else None
        try:
            rows = infer(self.tenant, types=types, entity=entity, limit=10)
        except ValidationError as exc:
            messages.error(request, " ".join(error_messages(exc)))
            return redirect("graph_entity", self.tenant.slug, entity.pk)
        messages.success(request, f"{len(rows)} suggestion{'s' if len(rows) != 1 else ''} for {entity.name}.")
        return redirect("graph_entity", self.tenant.slug, entity.pk)


class DecideView(TenantView):
    required_perm = "edit"
    accept = True

    def post(self, request, pk: int):
        suggestion = Suggestion.objects.for_tenant(self.tenant).select_related("source", "target").filter(pk=pk).first()
        if suggestion is None:
            raise Http404("No such suggestion.")
        back = request.POST.get("entity") or suggestion.source_id
        try:
            DecideSuggestion(self.tenant, request.user, suggestion, accept=self.accept).execute()
        except ValidationError as exc:
            messages.error(request, " ".join(error_messages(exc)))
        else:
            verb = "Accepted" if self.accept else "Rejected"
            messages.success(request, f"{verb}: {suggestion.source.name} {suggestion.type.replace('_', ' ')} {suggestion.target.name}.")
        ours = Entity.objects.for_tenant(self.tenant).filter(pk=back).first() if str(back).isdigit() else None
        return redirect("graph_entity", self.tenant.slug, ours.pk if ours else suggestion.source_id)


urlpatterns = [
    path("graph/", EntityListView.as_view(), name="graph_entities"),
    path("graph/<int:pk>", EntityDetailView.as_view(), name="graph_entity"),
    path("graph/<int:pk>/suggest", SuggestView.as_view(), name="graph_suggest"),
    path("graph/suggestions/<int:pk>/accept", DecideView.as_view(accept=True), name="graph_accept"),
    path("graph/suggestions/<int:pk>/reject", DecideView.as_view(accept=False), name="graph_reject"),
]
