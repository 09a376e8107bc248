"""REST API of the knowledge graph under /api/v1/graph/: entities, relations, neighbours,
path, competitors, subgraph and suggestions (run inference, accept, reject). Routed from
circuits/web/api/urls.py; same auth, tenancy (another tenant's ids are 404) and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404
from django.urls import path, register_converter
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service
from circuits.web.api.pagination import PagePagination
from circuits.web.api.serializers.common import StrictSerializer
from circuits.web.api.views.base import ApiView, id_param
from intelligence.graph.inference import MAX_SUGGESTIONS, infer
from intelligence.graph.models import Entity, Relation, Suggestion, SuggestionStatus
from intelligence.graph.queries import DIRECTIONS, MAX_DEPTH, competitors, entity_dict, neighbours, resolve, shortest_path, subgraph
from intelligence.graph.services import DecideSuggestion, DefineEntityKind, DefineRelationType, DeleteEntity, DeleteRelation, UpsertEntity, UpsertRelation
from intelligence.graph.types import BUILTIN_KINDS, kinds, relation_types

TAG = ["graph"]


class EntitySerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The entity's graph page.")

    class Meta:
        model = Entity
        fields = ["id", "kind", "name", "aliases", "attributes", "record", "origin", "created_at", "updated_at", "url"]

    def get_url(self, entity: Entity) -> str:
        return f"/t/{entity.tenant.slug}/graph/{entity.pk}"


class RelationSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)
    target_name = serializers.CharField(source="target.name", read_only=True)

    class Meta:
        model = Relation
        fields = [
            "id",
            "source",
            "source_name",
            "type",
            "target",
            "target_name",
            "origin",
            "confidence",
            "valid_from",
            "valid_to",
            "evidence",
            "created_at",
            "updated_at",
        ]


class SuggestionSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)
    target_name = serializers.CharField(source="target.name", read_only=True)

    class Meta:
        model = Suggestion
        fields = ["id", "source", "source_name", "type", "target", "target_name", "score", "method", "reason", "details", "status", "decided_at", "created_at"]


class EntityWriteSerializer(StrictSerializer):
    kind = serializers.SlugField(max_length=50, required=False, help_text="company, person, product, industry, technology, market, region or the tenant's own.")
    name = serializers.CharField(max_length=200, required=False)
    aliases = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=50)
    attributes = serializers.DictField(required=False)
    replace = serializers.BooleanField(default=False, required=False, help_text="Replace aliases and attributes instead of adding to them.")


class RelationWriteSerializer(StrictSerializer):
    source = serializers.IntegerField(min_value=1, help_text="An entity id.")
    target = serializers.IntegerField(min_value=1, help_text="An entity id.")
    type = serializers.SlugField(max_length=50)
    confidence = serializers.FloatField(min_value=0, max_value=1, default=1.0, required=False)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_to = serializers.DateField(required=False, allow_null=True)


class InferSerializer(StrictSerializer):
    types = serializers.ListField(child=serializers.SlugField(max_length=50), required=False, max_length=20, help_text="Default: competes_with.")
    entity = serializers.IntegerField(min_value=1, required=False, help_text="Only suggestions touching this entity.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_SUGGESTIONS, default=20, required=False)
    min_score = serializers.FloatField(min_value=0, max_value=1, default=0.0, required=False)


class WalkQuerySerializer(StrictSerializer):
    depth = serializers.IntegerField(min_value=1, max_value=MAX_DEPTH, default=1, required=False)
    types = serializers.CharField(max_length=1000, required=False, help_text="Comma-separated relation types.")
    direction = serializers.ChoiceField(choices=DIRECTIONS, default="both", required=False)


def _types(data: dict) -> list[str] | None:
    return [t.strip() for t in data.get("types", "").split(",") if t.strip()] or None


def _entity(view: ApiView, pk: int) -> Entity:
    entity = Entity.objects.for_tenant(view.tenant).select_related("tenant").filter(pk=pk).first()
    if entity is None:
        raise Http404(f"No entity {pk}.")
    return entity


def _relation(view: ApiView, pk: int) -> Relation:
    relation = Relation.objects.for_tenant(view.tenant).select_related("source", "target").filter(pk=pk).first()
    if relation is None:
        raise Http404(f"No relation {pk}.")
    return relation


def _suggestion(view: ApiView, pk: int) -> Suggestion:
    suggestion = Suggestion.objects.for_tenant(view.tenant).select_related("source", "target").filter(pk=pk).first()
    if suggestion is None:
        raise Http404(f"No suggestion {pk}.")
    return suggestion


class _ListView(ApiView):
    """The tenant's rows of one kind a page at a time (GET), beside a write (POST) that answers
    with the row in `serializer_class`: 201 when it created it, 200 when it updated one."""

    perms = {"GET": Perm.VIEW, "POST": Perm.EDIT}
    pagination_class = PagePagination

    def paged(self, rows) -> Response:
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.serializer_class(page, many=True).data)

    def written(self, row, created: bool) -> Response:
        return Response(self.serializer_class(row).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class _DetailView(ApiView):
    """One row, found by `fetch` in the tenant (another tenant's id is a 404): read it, or delete
    it through `deleting` (its service)."""

    fetch: Callable[[ApiView, int], Any]
    deleting: type[Service]

    def one(self, id: int) -> Response:
        return Response(self.serializer_class(self.fetch(id)).data)

    def deleted(self, id: int) -> Response:
        self.deleting(self.tenant, self.actor, self.fetch(id)).execute()
        return Response(status=status.HTTP_204_NO_CONTENT)


ENTITY_EXAMPLE = OpenApiExample(
    "A company", response_only=True,
    value={"id": 3, "kind": "company", "name": "Globex", "aliases": ["Globex Corp"], "attributes": {"industry": "Proptech", "region": "DACH"},
           "record": 41, "origin": "record", "created_at": "2026-01-15T10:00:00Z", "updated_at": "2026-01-15T10:00:00Z", "url": "/t/acme/graph/3"},
)  # fmt: skip
COMPETITORS_EXAMPLE = OpenApiExample(
    "Competitors", response_only=True,
    value={"company": {"id": 3, "kind": "company", "name": "Globex"}, "competitors": [
        {"id": 5, "kind": "company", "name": "Initech", "score": 1.0, "direct": True, "reason": "competes with Globex (entered by hand)",
         "paths": [["Globex", "competes_with", "Initech"]]},
        {"id": 9, "kind": "company", "name": "Hooli", "score": 0.59, "direct": False, "reason": "shares the market 'Smart buildings' (3 companies) with Globex",
         "paths": [["Globex", "in_market", "Smart buildings", "in_market", "Hooli"]]},
    ]},
)  # fmt: skip
SUGGESTION_EXAMPLE = OpenApiExample(
    "A suggestion", response_only=True,
    value={"id": 7, "source": 3, "source_name": "Globex", "type": "competes_with", "target": 9, "target_name": "Hooli", "score": 0.81, "method": "learned",
           "reason": "Globex and Hooli: same market (smart buildings); same region (dach). Learned combiner 0.81, driven by same market (+1.20); …",
           "details": {"features": {"adamic_adar": 0.0, "same_market": 1.0}}, "status": "pending", "decided_at": None, "created_at": "2026-01-15T10:00:00Z"},
)  # fmt: skip


RELATION = {
    "id": 11, "source": 3, "source_name": "Globex", "type": "competes_with", "target": 5, "target_name": "Initech", "origin": "document", "confidence": 0.7,
    "valid_from": None, "valid_to": None,
    "evidence": {"documents": [12], "document_title": "Market notes", "sentence": "Globex competes head-on with Initech.",
                 "rule": "'Globex' … 'competes' … 'Initech' in one sentence"},
    "created_at": "2026-01-15T10:00:00Z", "updated_at": "2026-01-15T10:00:00Z",
}  # fmt: skip
RELATION_EXAMPLE = OpenApiExample("A relation", response_only=True, value=RELATION)
NEIGHBOURS_EXAMPLE = OpenApiExample(
    "Neighbours", response_only=True,
    value={"entity": {"id": 3, "kind": "company", "name": "Globex"}, "neighbours": [
        {"id": 5, "kind": "company", "name": "Initech", "aliases": [], "attributes": {}, "record_id": None, "origin": "manual", "hops": 1, "via": RELATION},
    ]},
)  # fmt: skip
SUBGRAPH_EXAMPLE = OpenApiExample(
    "Subgraph", response_only=True,
    value={"center": 3, "entities": [{"id": 3, "kind": "company", "name": "Globex", "hops": 0}, {"id": 5, "kind": "company", "name": "Initech", "hops": 1}],
           "relations": [RELATION], "truncated": False},
)  # fmt: skip
PATH_EXAMPLE = OpenApiExample(
    "A path", response_only=True,
    value={"found": True, "hops": 1, "entities": [{"id": 3, "kind": "company", "name": "Globex"}, {"id": 5, "kind": "company", "name": "Initech"}],
           "relations": [RELATION]},
)  # fmt: skip
KINDS_EXAMPLE = OpenApiExample("Kinds", response_only=True, value={"results": [{"slug": "company", "label": "Company", "builtin": True}]})
KIND_EXAMPLE = OpenApiExample("A kind", response_only=True, value={"slug": "regulation", "label": "Regulation", "builtin": False})
KIND_REQUEST = OpenApiExample("Regulation", request_only=True, value={"slug": "regulation", "label": "Regulation"})
TYPE = {"slug": "resells", "label": "resells", "symmetric": False, "transitive": True, "builtin": False}
TYPES_EXAMPLE = OpenApiExample("Types", response_only=True, value={"results": [{**TYPE, "source_kinds": None, "target_kinds": None}]})
TYPE_EXAMPLE = OpenApiExample("A type", response_only=True, value=TYPE)
TYPE_REQUEST = OpenApiExample("Resells", request_only=True, value={"slug": "resells", "transitive": True})
INFER_REQUEST = OpenApiExample("Competitors", request_only=True, value={"types": ["competes_with"], "limit": 10})
INFER_EXAMPLE = OpenApiExample("Suggestions", response_only=True, value={"results": [SUGGESTION_EXAMPLE.value]})
DECISION_EXAMPLE = OpenApiExample(
    "Accepted", response_only=True, value={"suggestion": {**SUGGESTION_EXAMPLE.value, "status": "accepted"}, "relation": {**RELATION, "origin": "inference"}}
)
PATCH_EXAMPLE = OpenApiExample("Aliases", request_only=True, value={"aliases": ["Globex Corp"], "attributes": {"region": "DACH"}})


@extend_schema(tags=TAG)
class EntityListView(_ListView):
    serializer_class = EntitySerializer

    @extend_schema(
        summary="List entities (filter by kind, or q: a name or alias fragment)",
        parameters=[OpenApiParameter("kind", str), OpenApiParameter("q", str)],
        examples=[ENTITY_EXAMPLE],
    )
    def get(self, request):
        entities = Entity.objects.for_tenant(self.tenant).select_related("tenant").order_by("kind", "name", "id")
        if request.query_params.get("kind"):
            entities = entities.filter(kind=request.query_params["kind"])
        if request.query_params.get("q"):
            entities = entities.filter(name__icontains=request.query_params["q"][:200])
        return self.paged(entities)

    @extend_schema(
        summary="Add an entity, or update the one of that kind with that (normalised) name",
        request=EntityWriteSerializer, responses={201: EntitySerializer, 200: EntitySerializer},
        examples=[
            OpenApiExample(
                "Company", request_only=True, value={"kind": "company", "name": "Globex", "aliases": ["Globex Corp"], "attributes": {"region": "DACH"}}
            ),
            ENTITY_EXAMPLE,
        ],
    )  # fmt: skip
    def post(self, request):
        data = self.validated(EntityWriteSerializer)
        if not data.get("kind") or not data.get("name"):
            raise ValidationError({"kind" if not data.get("kind") else "name": ["This field is required."]})
        entity, created = UpsertEntity(
            self.tenant, self.actor, kind=data["kind"], name=data["name"], aliases=data.get("aliases"), attributes=data.get("attributes"),
            replace=data.get("replace", False),
        ).execute()  # fmt: skip
        return self.written(_entity(self, entity.pk), created)


@extend_schema(tags=TAG, parameters=[id_param("id", "entity")])
class EntityDetailView(_DetailView):
    perms = {"GET": Perm.VIEW, "PATCH": Perm.EDIT, "DELETE": Perm.EDIT}
    serializer_class = EntitySerializer
    fetch = _entity
    deleting = DeleteEntity

    @extend_schema(summary="One entity", examples=[ENTITY_EXAMPLE])
    def get(self, request, id: int):
        return self.one(id)

    @extend_schema(summary="Rename an entity or change its aliases and attributes", request=EntityWriteSerializer, examples=[PATCH_EXAMPLE, ENTITY_EXAMPLE])
    def patch(self, request, id: int):
        entity = _entity(self, id)
        data = self.validated(EntityWriteSerializer)
        UpsertEntity(
            self.tenant, self.actor, entity=entity, kind=data.get("kind", entity.kind), name=data.get("name", entity.name),
            aliases=data.get("aliases"), attributes=data.get("attributes"), replace=data.get("replace", False),
        ).execute()  # fmt: skip
        return Response(EntitySerializer(_entity(self, id)).data)

    @extend_schema(summary="Delete an entity with its relations and suggestions", responses={204: None})
    def delete(self, request, id: int):
        return self.deleted(id)


@extend_schema(tags=TAG, parameters=[id_param("id", "entity")])
class NeighboursView(ApiView):
    serializer_class = WalkQuerySerializer

    @extend_schema(
        summary="Entities within depth hops (1–4), each with its distance and the relation reaching it", examples=[NEIGHBOURS_EXAMPLE],
        parameters=[WalkQuerySerializer], responses={200: OpenApiTypes.OBJECT},
    )  # fmt: skip
    def get(self, request, id: int):
        entity = _entity(self, id)
        q = self.validated(WalkQuerySerializer, request.query_params.dict())
        found = neighbours(self.tenant, entity, q.get("depth", 1), _types(q), q.get("direction", "both"))
        return Response({"entity": entity_dict(entity), "neighbours": found})


@extend_schema(tags=TAG, parameters=[id_param("id", "entity")])
class SubgraphView(ApiView):
    serializer_class = WalkQuerySerializer

    @extend_schema(
        summary="The entities within depth hops and every relation among them (for drawing)",
        examples=[SUBGRAPH_EXAMPLE],
        parameters=[WalkQuerySerializer],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, id: int):
        entity = _entity(self, id)
        q = self.validated(WalkQuerySerializer, request.query_params.dict())
        return Response(subgraph(self.tenant, entity, q.get("depth", 1), _types(q)))


class CompetitorQuerySerializer(StrictSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=50, default=10, required=False)
    indirect = serializers.BooleanField(default=True, required=False)


@extend_schema(tags=TAG, parameters=[id_param("id", "entity")])
class CompetitorsView(ApiView):
    serializer_class = CompetitorQuerySerializer

    @extend_schema(
        summary="Competitors of a company: direct, then via a shared market/industry/technology, each with a score and the path as its reason",
        parameters=[CompetitorQuerySerializer], responses={200: OpenApiTypes.OBJECT}, examples=[COMPETITORS_EXAMPLE],
    )  # fmt: skip
    def get(self, request, id: int):
        entity = _entity(self, id)
        q = self.validated(CompetitorQuerySerializer, request.query_params.dict())
        return Response({"company": entity_dict(entity), "competitors": competitors(self.tenant, entity, q.get("limit", 10), q.get("indirect", True))})


class PathQuerySerializer(StrictSerializer):
    source = serializers.CharField(max_length=200, help_text="An entity id or name.")
    target = serializers.CharField(max_length=200, help_text="An entity id or name.")
    max_depth = serializers.IntegerField(min_value=1, max_value=MAX_DEPTH, default=MAX_DEPTH, required=False)
    types = serializers.CharField(max_length=1000, required=False, help_text="Comma-separated relation types.")


@extend_schema(tags=TAG)
class PathView(ApiView):
    serializer_class = PathQuerySerializer

    @extend_schema(
        summary="The shortest chain of relations between two entities (found: false when none within max_depth)",
        examples=[PATH_EXAMPLE],
        parameters=[PathQuerySerializer],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        q = self.validated(PathQuerySerializer, request.query_params.dict())
        source, target = resolve(self.tenant, q["source"], field="source"), resolve(self.tenant, q["target"], field="target")
        found = shortest_path(self.tenant, source, target, q.get("max_depth", MAX_DEPTH), _types(q))
        return Response({"found": found is not None, **(found or {"entities": [], "relations": [], "hops": None})})


@extend_schema(tags=TAG)
class RelationListView(_ListView):
    serializer_class = RelationSerializer

    @extend_schema(
        summary="List relations (filter by type, origin or entity)",
        examples=[RELATION_EXAMPLE],
        parameters=[OpenApiParameter("type", str), OpenApiParameter("origin", str), OpenApiParameter("entity", int)],
    )
    def get(self, request):
        relations = Relation.objects.for_tenant(self.tenant).select_related("source", "target").order_by("type", "id")
        for name in ("type", "origin"):
            if request.query_params.get(name):
                relations = relations.filter(**{name: request.query_params[name]})
        entity = request.query_params.get("entity")
        if entity:
            if not entity.isdigit():
                raise ValidationError({"entity": ["An entity id."]})
            relations = relations.filter(source_id=int(entity)) | relations.filter(target_id=int(entity))
        return self.paged(relations)

    @extend_schema(
        summary="Relate two entities (or update that relation); symmetric types are stored once",
        request=RelationWriteSerializer, responses={201: RelationSerializer, 200: RelationSerializer},
        examples=[
            RELATION_EXAMPLE,
            OpenApiExample("Competes", request_only=True, value={"source": 3, "type": "competes_with", "target": 5, "confidence": 0.9}),
        ],
    )  # fmt: skip
    def post(self, request):
        data = self.validated(RelationWriteSerializer)
        ours = Entity.objects.for_tenant(self.tenant)
        source, target = ours.filter(pk=data["source"]).first(), ours.filter(pk=data["target"]).first()
        if source is None or target is None:
            raise Http404(f"No entity {data['source'] if source is None else data['target']}.")
        relation, created = UpsertRelation(
            self.tenant, self.actor, source=source, target=target, type=data["type"], confidence=data.get("confidence", 1.0),
            valid_from=data.get("valid_from"), valid_to=data.get("valid_to"),
        ).execute()  # fmt: skip
        return self.written(_relation(self, relation.pk), created)


@extend_schema(tags=TAG, parameters=[id_param("id", "relation")])
class RelationDetailView(_DetailView):
    perms = {"GET": Perm.VIEW, "DELETE": Perm.EDIT}
    serializer_class = RelationSerializer
    fetch = _relation
    deleting = DeleteRelation

    @extend_schema(summary="One relation with its origin, confidence and evidence", examples=[RELATION_EXAMPLE])
    def get(self, request, id: int):
        return self.one(id)

    @extend_schema(summary="Delete a relation", responses={204: None})
    def delete(self, request, id: int):
        return self.deleted(id)


@extend_schema(tags=TAG)
class SuggestionListView(_ListView):
    serializer_class = SuggestionSerializer

    @extend_schema(
        summary="Suggested relations, best first (status: pending, accepted, rejected)",
        parameters=[OpenApiParameter("status", str)],
        examples=[SUGGESTION_EXAMPLE],
    )
    def get(self, request):
        wanted = request.query_params.get("status", SuggestionStatus.PENDING)
        if wanted not in SuggestionStatus.values:
            raise ValidationError({"status": [f"One of {', '.join(SuggestionStatus.values)}."]})
        rows = Suggestion.objects.for_tenant(self.tenant).filter(status=wanted).select_related("source", "target").order_by("-score", "id")
        return self.paged(rows)

    @extend_schema(
        summary="Run inference: suggest relations (link prediction and rules), stored as pending; never one the tenant rejected",
        request=InferSerializer, responses={200: OpenApiTypes.OBJECT}, examples=[INFER_REQUEST, INFER_EXAMPLE],
    )  # fmt: skip
    def post(self, request):
        data = self.validated(InferSerializer)
        entity = _entity(self, data["entity"]) if data.get("entity") else None
        rows = infer(self.tenant, types=data.get("types"), entity=entity, limit=data.get("limit", 20), min_score=data.get("min_score", 0.0))
        fresh = Suggestion.objects.for_tenant(self.tenant).filter(pk__in=[r.pk for r in rows]).select_related("source", "target").order_by("-score", "id")
        return Response({"results": SuggestionSerializer(fresh, many=True).data})


@extend_schema(tags=TAG, parameters=[id_param("id", "suggestion")])
class SuggestionDecisionView(ApiView):
    perms = {"POST": Perm.EDIT}
    serializer_class = SuggestionSerializer
    accept = True

    @extend_schema(
        summary="Accept (it becomes a relation of origin inference) or reject (never suggested again)",
        examples=[DECISION_EXAMPLE],
        request=None,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request, id: int):
        suggestion = _suggestion(self, id)
        relation = DecideSuggestion(self.tenant, self.actor, suggestion, accept=self.accept).execute()
        body = {"suggestion": SuggestionSerializer(_suggestion(self, id)).data}
        if relation is not None:
            body["relation"] = RelationSerializer(_relation(self, relation.pk)).data
        return Response(body)


class KindSerializer(StrictSerializer):
    slug = serializers.SlugField(max_length=50)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True)


class RelationTypeSerializer(StrictSerializer):
    slug = serializers.SlugField(max_length=50)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True)
    symmetric = serializers.BooleanField(default=False, required=False, help_text="A→B is B→A (stored once).")
    transitive = serializers.BooleanField(default=False, required=False, help_text="A→B and B→C suggest A→C.")


@extend_schema(tags=TAG)
class KindListView(ApiView):
    perms = {"GET": Perm.VIEW, "POST": Perm.MANAGE_SETTINGS}
    serializer_class = KindSerializer

    @extend_schema(summary="The kinds of entity: built-in and the tenant's own", examples=[KINDS_EXAMPLE], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response({"results": [{"slug": slug, "label": label, "builtin": slug in BUILTIN_KINDS} for slug, label in kinds(self.tenant).items()]})

    @extend_schema(
        summary="Define (or relabel) a kind of entity of the tenant's own",
        examples=[KIND_REQUEST, KIND_EXAMPLE],
        request=KindSerializer,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        data = self.validated(KindSerializer)
        row = DefineEntityKind(self.tenant, self.actor, data["slug"], data.get("label", "")).execute()
        return Response({"slug": row.slug, "label": row.label, "builtin": False}, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAG)
class RelationTypeListView(ApiView):
    perms = {"GET": Perm.VIEW, "POST": Perm.MANAGE_SETTINGS}
    serializer_class = RelationTypeSerializer

    @extend_schema(summary="The types of relation with their declared properties and kinds", examples=[TYPES_EXAMPLE], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        rows = [
            {"slug": d.slug, "label": d.label, "symmetric": d.symmetric, "transitive": d.transitive, "builtin": d.builtin,
             "source_kinds": sorted(d.source_kinds) if d.source_kinds else None, "target_kinds": sorted(d.target_kinds) if d.target_kinds else None}
            for d in relation_types(self.tenant).values()
        ]  # fmt: skip
        return Response({"results": rows})

    @extend_schema(
        summary="Define (or change) a type of relation of the tenant's own",
        examples=[TYPE_REQUEST, TYPE_EXAMPLE],
        request=RelationTypeSerializer,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        data = self.validated(RelationTypeSerializer)
        row = DefineRelationType(
            self.tenant, self.actor, data["slug"], data.get("label", ""), data.get("symmetric", False), data.get("transitive", False)
        ).execute()
        return Response(
            {"slug": row.slug, "label": row.label, "symmetric": row.symmetric, "transitive": row.transitive, "builtin": False}, status=status.HTTP_201_CREATED
        )


class _Id:
    """At most 18 digits (like the API's own ids): a longer number is a 404, not an overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(_Id, "graph_id")

urlpatterns = [
    path("graph/kinds", KindListView.as_view(), name="graph-kinds"),
    path("graph/relation-types", RelationTypeListView.as_view(), name="graph-relation-types"),
    path("graph/entities", EntityListView.as_view(), name="graph-entities"),
    path("graph/entities/<graph_id:id>", EntityDetailView.as_view(), name="graph-entity"),
    path("graph/entities/<graph_id:id>/neighbours", NeighboursView.as_view(), name="graph-neighbours"),
    path("graph/entities/<graph_id:id>/subgraph", SubgraphView.as_view(), name="graph-subgraph"),
    path("graph/entities/<graph_id:id>/competitors", CompetitorsView.as_view(), name="graph-competitors"),
    path("graph/path", PathView.as_view(), name="graph-path"),
    path("graph/relations", RelationListView.as_view(), name="graph-relations"),
    path("graph/relations/<graph_id:id>", RelationDetailView.as_view(), name="graph-relation"),
    path("graph/suggestions", SuggestionListView.as_view(), name="graph-suggestions"),
    path("graph/suggestions/<graph_id:id>/accept", SuggestionDecisionView.as_view(accept=True), name="graph-suggestion-accept"),
    path("graph/suggestions/<graph_id:id>/reject", SuggestionDecisionView.as_view(accept=False), name="graph-suggestion-reject"),
]
