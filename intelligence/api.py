"""REST API of retrieval: /api/v1/documents (CRUD, upload, status, chunks), POST /api/v1/search,
POST /api/v1/feedback. Routed from circuits/web/api/urls.py; same auth, tenancy and errors."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.urls import path, register_converter
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from circuits.tenancy.roles import Perm
from circuits.web.api.pagination import PagePagination
from circuits.web.api.parsers import LimitedJSONParser
from circuits.web.api.serializers.common import StrictSerializer
from circuits.web.api.views.base import ApiView, id_param
from intelligence.ml_api import urlpatterns as ml_urlpatterns
from intelligence.rag.ingest import DeleteDocument, IngestDocument, RecordFeedback, UpdateDocument
from intelligence.rag.models import Document
from intelligence.rag.search import FUSIONS, MAX_K, MODES, search

TAG = ["documents"]
SEARCH_TAG = ["search"]


class DocumentSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True, help_text="Share of chunks embedded (0–1).")
    url = serializers.SerializerMethodField(help_text="The document's page.")

    class Meta:
        model = Document
        fields = [
            "id", "title", "source", "source_type", "authority", "tags", "published_at", "status", "error",
            "chunk_count", "embedded_count", "progress", "size_bytes", "content_hash", "created_at", "updated_at", "url",
        ]  # fmt: skip

    def get_url(self, document: Document) -> str:
        return f"/t/{document.tenant.slug}/documents/{document.pk}"


class DocumentWriteSerializer(StrictSerializer):
    text = serializers.CharField(required=False, trim_whitespace=False, help_text="Markdown (or plain text with format=text).")
    format = serializers.ChoiceField(choices=["markdown", "text"], default="markdown", required=False)
    url = serializers.URLField(required=False, help_text="Fetch this page or file (through the outbound guard) and ingest it.")
    file = serializers.FileField(required=False, help_text="multipart/form-data upload: .txt, .md, .html or .pdf.")
    source = serializers.CharField(required=False, max_length=1000, help_text="Names the document; the same source again replaces it.")
    title = serializers.CharField(required=False, max_length=300)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=20)
    authority = serializers.FloatField(required=False, min_value=0, max_value=1)
    published_at = serializers.DateTimeField(required=False)

    def validate(self, data):
        given = [name for name in ("text", "url", "file") if name in data]
        if len(given) != 1:
            raise serializers.ValidationError({"text": ["Send exactly one of text, url or file."]})
        if "text" in data and not data.get("source"):
            raise serializers.ValidationError({"source": ["Name the document (source) when sending text."]})
        return data


class DocumentPatchSerializer(StrictSerializer):
    title = serializers.CharField(required=False, max_length=300)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=20)
    authority = serializers.FloatField(required=False, min_value=0, max_value=1)
    published_at = serializers.DateTimeField(required=False, allow_null=True)


class ChunkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ordinal = serializers.IntegerField()
    heading = serializers.CharField()
    text = serializers.CharField()
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    embedding_model = serializers.CharField(help_text="The model that made the vector; empty while pending.")


class SearchRequestSerializer(StrictSerializer):
    query = serializers.CharField(max_length=1000)
    k = serializers.IntegerField(min_value=1, max_value=MAX_K, default=10, required=False)
    mode = serializers.ChoiceField(choices=MODES, default="auto", required=False)
    fusion = serializers.ChoiceField(choices=FUSIONS, default="weighted", required=False)
    dense_weight = serializers.FloatField(min_value=0, max_value=1, required=False)
    filters = serializers.DictField(required=False, help_text="tags, source_types, documents, published_after, published_before, min_authority.")
    answer = serializers.BooleanField(default=False, required=False, help_text="Also return the extractive answer.")


class FeedbackSerializer(StrictSerializer):
    chunk_id = serializers.IntegerField(min_value=1)
    value = serializers.ChoiceField(choices=["up", "down"])
    query = serializers.CharField(max_length=1000, required=False, allow_blank=True)


DOCUMENT = {
    "id": 12, "title": "Refund policy", "source": "refunds.md", "source_type": "markdown", "authority": 0.9, "tags": ["policy"],
    "published_at": "2025-01-15T00:00:00Z", "status": "ready", "error": "", "chunk_count": 3, "embedded_count": 3, "progress": 1.0,
    "size_bytes": 2048, "content_hash": "9f2c…", "created_at": "2025-01-15T10:00:00Z", "updated_at": "2025-01-15T10:00:02Z",
    "url": "/t/acme/documents/12",
}  # fmt: skip
DOCUMENT_EXAMPLE = OpenApiExample("A document", response_only=True, value=DOCUMENT)
CHUNK_EXAMPLE = OpenApiExample(
    "A chunk", response_only=True,
    value={"id": 40, "ordinal": 0, "heading": "Refund policy", "text": "Customers may return a purchase within 30 days.", "start": 16, "end": 63,
           "embedding_model": "all-MiniLM-L6-v2/onnx-int8"},
)  # fmt: skip
SEARCH_EXAMPLE = OpenApiExample(
    "Results",
    response_only=True,
    value={
        "query": "refund window", "mode": "auto", "fusion": "weighted", "dense_weight": 0.6,
        "route": {"name": "company_facts", "reason": "rule: asks about a current rule or fact ('policy')", "dense_weight": 0.6},
        "results": [{
            "chunk_id": 40, "document_id": 12, "title": "Refund policy", "heading": "Refund policy", "text": "Customers may return a purchase within 30 days.",
            "start": 16, "end": 63, "score": 1.08,
            "scores": {"dense": 0.71, "sparse": 7.2, "dense_norm": 1.0, "sparse_norm": 1.0, "fused": 1.0, "recency": 0.4, "feedback": 0.0},
            "citation": {"document_id": 12, "chunk_id": 40, "ordinal": 0, "start": 16, "end": 63, "url": "/t/acme/documents/12#chunk-0"},
        }],
        "took_ms": 14.2,
    },
)  # fmt: skip
FEEDBACK_EXAMPLE = OpenApiExample("Thumbs up", request_only=True, value={"chunk_id": 40, "value": "up", "query": "refund window"})
FEEDBACK_RESULT = OpenApiExample("Stored", response_only=True, value={"id": 7, "chunk_id": 40, "value": 1})
MARKDOWN_EXAMPLE = OpenApiExample("Markdown", request_only=True, value={"source": "refunds.md", "text": "# Refunds\nWithin 30 days.", "tags": ["policy"]})
PATCH_EXAMPLE = OpenApiExample("Retag", request_only=True, value={"tags": ["policy", "current"], "authority": 0.9})


def _document(view: ApiView, document_id: int) -> Document:
    document = Document.objects.for_tenant(view.tenant).select_related("tenant").filter(pk=document_id).first()
    if document is None:
        raise Http404(f"No document {document_id}.")
    return document


@extend_schema(tags=TAG)
class DocumentListView(ApiView):
    perms = {"GET": Perm.VIEW, "POST": Perm.EDIT}
    serializer_class = DocumentSerializer
    pagination_class = PagePagination
    parser_classes = [LimitedJSONParser, MultiPartParser]

    def get_queryset(self):
        return Document.objects.for_tenant(self.tenant).select_related("tenant").defer("text").order_by("-updated_at", "-id")

    @extend_schema(summary="List documents with their embedding status", examples=[DOCUMENT_EXAMPLE])
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Add a document: Markdown/text, a URL, or a file upload (multipart); the same source again replaces it if changed",
        request={"application/json": DocumentWriteSerializer, "multipart/form-data": DocumentWriteSerializer},
        responses={201: DocumentSerializer, 200: DocumentSerializer},
        examples=[
            OpenApiExample("Markdown", request_only=True, value={"source": "refunds.md", "text": "# Refunds\nWithin 30 days.", "tags": ["policy"]}),
            DOCUMENT_EXAMPLE,
        ],
    )
    def post(self, request):
        data = dict(request.data.items()) if hasattr(request.data, "getlist") else request.data
        if hasattr(request.data, "getlist") and "tags" in request.data:
            data["tags"] = [t for value in request.data.getlist("tags") for t in value.split(",")]
        data = self.validated(DocumentWriteSerializer, data)
        meta = {k: data[k] for k in ("source", "title", "tags", "authority", "published_at") if k in data}
        if "file" in data:
            upload = data["file"]
            limit = settings.RAG_MAX_UPLOAD_BYTES
            if upload.size > limit:  # refused before the file is read into memory
                raise ValidationError({"file": [f"{upload.name} is {upload.size:,} bytes; the limit is {limit:,} (RAG_MAX_UPLOAD_BYTES)."]})
            service = IngestDocument.from_file(
                self.tenant, self.actor, filename=upload.name, data=upload.read(), content_type=upload.content_type or "", **meta
            )
        elif "url" in data:
            self.require(Perm.EDIT)  # before any fetch
            service = IngestDocument.from_url(self.tenant, self.actor, url=data["url"], **meta)
        else:
            service = IngestDocument.from_text(self.tenant, self.actor, text=data["text"], markdown=data.get("format") != "text", **meta)
        result = service.execute()
        document = Document.objects.select_related("tenant").get(pk=result.document.pk)
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED if result.changed else status.HTTP_200_OK)


@extend_schema(tags=TAG, parameters=[id_param("id", "document")])
class DocumentDetailView(ApiView):
    perms = {"GET": Perm.VIEW, "PATCH": Perm.EDIT, "DELETE": Perm.EDIT}
    serializer_class = DocumentSerializer

    @extend_schema(summary="One document and its embedding progress", examples=[DOCUMENT_EXAMPLE])
    def get(self, request, id: int):
        return Response(DocumentSerializer(_document(self, id)).data)

    @extend_schema(summary="Change a document's title, tags, authority or date", request=DocumentPatchSerializer, examples=[PATCH_EXAMPLE, DOCUMENT_EXAMPLE])
    def patch(self, request, id: int):
        document = _document(self, id)
        data = self.validated(DocumentPatchSerializer)
        return Response(DocumentSerializer(UpdateDocument(self.tenant, self.actor, document, data).execute()).data)

    @extend_schema(summary="Delete a document and every chunk of it", responses={204: None})
    def delete(self, request, id: int):
        DeleteDocument(self.tenant, self.actor, _document(self, id)).execute()
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAG, parameters=[id_param("id", "document")])
class DocumentChunksView(ApiView):
    serializer_class = ChunkSerializer
    pagination_class = PagePagination

    @extend_schema(summary="A document's chunks, in order, with their offsets into its text", examples=[CHUNK_EXAMPLE])
    def get(self, request, id: int):
        document = _document(self, id)
        rows = document.chunks.order_by("ordinal").values("id", "ordinal", "heading", "text", "start", "end", "embedding_model")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ChunkSerializer(page, many=True).data)


@extend_schema(tags=SEARCH_TAG)
class SearchView(ApiView):
    perms = {"POST": Perm.VIEW}
    serializer_class = SearchRequestSerializer

    @extend_schema(
        summary="Search the tenant's documents: dense, sparse (BM25), hybrid or auto (routed), with score breakdowns and citations",
        request=SearchRequestSerializer,
        responses={200: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Auto", request_only=True, value={"query": "refund window for enterprise customers", "k": 5, "mode": "auto"}), SEARCH_EXAMPLE],
    )
    def post(self, request):
        data = self.validated(SearchRequestSerializer)
        return Response(
            search(
                self.tenant,
                data["query"],
                k=data.get("k", 10),
                mode=data.get("mode", "auto"),
                filters=data.get("filters"),
                fusion=data.get("fusion", "weighted"),
                dense_weight=data.get("dense_weight"),
                answer=data.get("answer", False),
            )
        )


@extend_schema(tags=SEARCH_TAG)
class FeedbackView(ApiView):
    perms = {"POST": Perm.VIEW}
    serializer_class = FeedbackSerializer

    @extend_schema(
        summary="Thumbs up or down on a search result (moves it in later auto searches); one vote per member and result: voting again changes it (200)",
        request=FeedbackSerializer,
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
        examples=[FEEDBACK_EXAMPLE, FEEDBACK_RESULT],
    )
    def post(self, request):
        data = self.validated(FeedbackSerializer)
        service = RecordFeedback(self.tenant, self.actor, chunk_id=data["chunk_id"], value=data["value"], query=data.get("query", ""))
        feedback = service.execute()
        return Response(
            {"id": feedback.pk, "chunk_id": feedback.chunk_id, "value": feedback.value},
            status=status.HTTP_201_CREATED if service.created else status.HTTP_200_OK,
        )


class _DocumentId:
    """At most 18 digits (like the API's own ids): a longer number is a 404, not an overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(_DocumentId, "rag_id")

urlpatterns = [
    path("documents", DocumentListView.as_view(), name="documents"),
    path("documents/<rag_id:id>", DocumentDetailView.as_view(), name="document"),
    path("documents/<rag_id:id>/chunks", DocumentChunksView.as_view(), name="document-chunks"),
    path("search", SearchView.as_view(), name="search"),
    path("feedback", FeedbackView.as_view(), name="feedback"),
    *ml_urlpatterns,  # /api/v1/models… (intelligence/ml_api.py)
]
