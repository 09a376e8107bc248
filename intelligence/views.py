"""Pages of retrieval: Documents (upload with progress, list, a document with its chunks) and the
Search playground (route, score breakdown, feedback). They call the same services as the API."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path

from circuits.tenancy.permissions import has_perm
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.form_errors import error_messages
from intelligence.ml_views import urlpatterns as ml_urlpatterns
from intelligence.rag.ingest import DeleteDocument, IngestDocument, RecordFeedback
from intelligence.rag.models import Document
from intelligence.rag.search import MODES, search

PAGE_SIZE = 50


class DocumentListView(TenantView):
    def context(self, **extra):
        documents = list(Document.objects.for_tenant(self.tenant).defer("text").order_by("-updated_at", "-id")[:PAGE_SIZE])
        return {
            "documents": documents,
            "total": Document.objects.for_tenant(self.tenant).count(),
            "embedding": any(d.status == "embedding" for d in documents),
            "can_edit": has_perm(self.request.user, self.tenant, "edit"),
            **extra,
        }

    def get(self, request):
        return render_page(request, "intelligence/documents.html", self.context(), partial="intelligence/_document_rows.html")

    def post(self, request):
        self.require("edit")
        upload = request.FILES.get("file")
        meta = {"tags": request.POST.get("tags", ""), "title": request.POST.get("title", "")}
        if request.POST.get("authority"):
            meta["authority"] = request.POST["authority"]
        try:
            if upload is not None:
                from django.conf import settings

                if upload.size > settings.RAG_MAX_UPLOAD_BYTES:
                    raise ValidationError({"file": f"{upload.name} is {upload.size:,} bytes; the limit is {settings.RAG_MAX_UPLOAD_BYTES:,}."})
                service = IngestDocument.from_file(
                    self.tenant, request.user, filename=upload.name, data=upload.read(), content_type=upload.content_type or "", **meta
                )
            elif request.POST.get("url"):
                service = IngestDocument.from_url(self.tenant, request.user, url=request.POST["url"].strip(), **meta)
            elif request.POST.get("text", "").strip():
                service = IngestDocument.from_text(self.tenant, request.user, text=request.POST["text"], source=request.POST.get("source", "").strip(), **meta)
            else:
                raise ValidationError({"file": "Choose a file, give a URL, or paste some text."})
            result = service.execute()
        except ValidationError as exc:
            return render_page(request, "intelligence/documents.html", self.context(errors=error_messages(exc)), status=400)
        if result.changed:
            messages.success(request, f"Added {result.document.title}: {result.document.chunk_count} chunks, embedding now.")
        else:
            messages.success(request, f"{result.document.title} has not changed; its details were updated.")
        return redirect("rag_documents", self.tenant.slug)


def _document(view: TenantView, pk: int) -> Document:
    document = Document.objects.for_tenant(view.tenant).filter(pk=pk).first()
    if document is None:  # another tenant's document is exactly as absent as a missing one
        raise Http404("No such document.")
    return document


class DocumentDetailView(TenantView):
    def get(self, request, pk: int):
        document = _document(self, pk)
        chunks = list(document.chunks.order_by("ordinal").values("ordinal", "heading", "text", "start", "end", "embedding_model"))
        return render_page(
            request,
            "intelligence/document.html",
            {"document": document, "chunks": chunks, "can_edit": has_perm(request.user, self.tenant, "edit")},
            partial="intelligence/_document_status.html",
        )


class DocumentDeleteView(TenantView):
    required_perm = "edit"

    def post(self, request, pk: int):
        document = _document(self, pk)
        DeleteDocument(self.tenant, request.user, document).execute()
        messages.success(request, f"Deleted {document.title} and its chunks.")
        return redirect("rag_documents", self.tenant.slug)


class SearchView(TenantView):
    def get(self, request):
        query = request.GET.get("q", "").strip()
        mode = request.GET.get("mode", "auto")
        context = {"query": query, "mode": mode, "modes": MODES, "response": None, "errors": []}
        if query:
            try:
                k = int(request.GET.get("k", "10"))
            except ValueError:
                k = 0
            try:
                context["response"] = search(self.tenant, query, k=k, mode=mode, answer=True)
            except ValidationError as exc:
                context["errors"] = error_messages(exc)
        return render_page(request, "intelligence/search.html", context, partial="intelligence/_search_results.html", status=400 if context["errors"] else 200)


class FeedbackView(TenantView):
    def post(self, request):
        try:
            chunk_id = int(request.POST.get("chunk_id", ""))
        except ValueError:
            chunk_id = None
        try:
            RecordFeedback(self.tenant, request.user, chunk_id=chunk_id, value=request.POST.get("value"), query=request.POST.get("q", "")).execute()
        except ValidationError as exc:
            return render_page(request, "intelligence/_feedback.html", {"errors": error_messages(exc)}, partial="intelligence/_feedback.html", status=400)
        value = request.POST.get("value")
        return render_page(request, "intelligence/_feedback.html", {"done": value}, partial="intelligence/_feedback.html")


urlpatterns = [
    path("documents/", DocumentListView.as_view(), name="rag_documents"),
    path("documents/<int:pk>", DocumentDetailView.as_view(), name="rag_document"),
    path("documents/<int:pk>/delete", DocumentDeleteView.as_view(), name="rag_document_delete"),
    path("search/", SearchView.as_view(), name="rag_search"),
    path("search/feedback", FeedbackView.as_view(), name="rag_feedback"),
    *ml_urlpatterns,  # models pages (intelligence/ml_views.py)
]
