"""/api/v1/documents, /api/v1/search and /api/v1/feedback: the access suite, then behaviour."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from actions.web.tests.server import reply, serve
from circuits.tenancy.roles import Perm
from intelligence.rag.ingest import IngestDocument
from intelligence.rag.models import Chunk, Document, Feedback
from intelligence.rag.tests.helpers import make_pdf
from tests.api.access import ApiAccessSuite, Endpoint, assert_problem
from tests.api.helpers import client_as

V = "/api/v1"
pytestmark = pytest.mark.django_db


@dataclass
class Docs:
    ours: Document
    spare: Document
    theirs: Document
    our_chunk: Chunk


def _docs(world) -> Docs:
    ours = IngestDocument.from_text(world.tenant, world.owner, text="# Refunds\nMoney back within 30 days.", source="refunds.md").execute().document
    spare = IngestDocument.from_text(world.tenant, world.owner, text="# Spare\nTo be deleted.", source="spare.md").execute().document
    theirs = IngestDocument.from_text(world.other_tenant, world.outsider, text="# Theirs\nRefunds never.", source="theirs.md").execute().document
    return Docs(ours, spare, theirs, ours.chunks.first())


ENDPOINTS = [
    Endpoint("documents", "get", lambda o: f"{V}/documents", Perm.VIEW),
    Endpoint("documents", "post", lambda o: f"{V}/documents", Perm.EDIT, lambda o: {"source": "new.md", "text": "# New\nA new document."}, ok=(201,)),
    Endpoint("document", "get", lambda o: f"{V}/documents/{o.ours.pk}", Perm.VIEW, cross=lambda o: f"{V}/documents/{o.theirs.pk}"),
    Endpoint("document", "patch", lambda o: f"{V}/documents/{o.ours.pk}", Perm.EDIT, lambda o: {"tags": ["x"]}, cross=lambda o: f"{V}/documents/{o.theirs.pk}"),
    Endpoint("document", "delete", lambda o: f"{V}/documents/{o.spare.pk}", Perm.EDIT, ok=(204,), cross=lambda o: f"{V}/documents/{o.theirs.pk}"),
    Endpoint("chunks", "get", lambda o: f"{V}/documents/{o.ours.pk}/chunks", Perm.VIEW, cross=lambda o: f"{V}/documents/{o.theirs.pk}/chunks"),
    Endpoint("search", "post", lambda o: f"{V}/search", Perm.VIEW, lambda o: {"query": "refunds", "mode": "sparse"}),
    Endpoint("feedback", "post", lambda o: f"{V}/feedback", Perm.VIEW, lambda o: {"chunk_id": o.our_chunk.pk, "value": "up"}, ok=(201,)),
]


class TestRetrievalApiAccess(ApiAccessSuite):
    pages = ENDPOINTS

    @pytest.fixture
    def objs(self, world) -> Docs:
        return _docs(world)


def test_upload_a_pdf_then_the_same_file_again_is_unchanged(world):
    client = client_as(world, "editor")
    pdf = make_pdf([["Warranty terms.", "Sensors carry a five year warranty."]], title="Warranty")
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(f"{V}/documents", {"file": SimpleUploadedFile("warranty.pdf", pdf, "application/pdf"), "tags": "legal,terms"}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["source"], body["source_type"], body["title"], body["tags"]) == ("warranty.pdf", "pdf", "Warranty", ["legal", "terms"])
    assert body["status"] == "embedding" and body["chunk_count"] == 1 and body["progress"] == 0.0
    assert body["url"] == f"/t/acme/documents/{body['id']}"
    again = client.post(f"{V}/documents", {"file": SimpleUploadedFile("warranty.pdf", pdf, "application/pdf")}, format="multipart")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    chunks = client.get(f"{V}/documents/{body['id']}/chunks").json()["results"]
    assert chunks[0]["text"].startswith("Warranty terms.") and chunks[0]["embedding_model"] == ""


def test_bad_uploads_are_400_naming_the_problem_and_save_nothing(world, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_as(world, "editor")
    body = assert_problem(client.post(f"{V}/documents", {"file": SimpleUploadedFile("x.pdf", b"not a pdf", "application/pdf")}, format="multipart"), 400)
    assert "x.pdf is not a PDF" in str(body["errors"])
    settings.RAG_MAX_UPLOAD_BYTES = 1024
    body = assert_problem(client.post(f"{V}/documents", {"file": SimpleUploadedFile("big.txt", b"a" * 5000, "text/plain")}, format="multipart"), 400)
    assert "RAG_MAX_UPLOAD_BYTES" in str(body["errors"])
    assert "text" in assert_problem(client.post(f"{V}/documents", {"source": "a.md"}, format="json"), 400)["errors"]
    assert "colour" in assert_problem(client.post(f"{V}/documents", {"source": "a.md", "text": "x", "colour": "red"}, format="json"), 400)["errors"]
    assert not Document.objects.exists()


def test_search_returns_only_the_callers_tenant_with_route_scores_and_citations(world, inline_embedding, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        docs = _docs(world)
    client = client_as(world, "viewer")
    for mode in ("dense", "sparse", "hybrid", "auto"):
        response = client.post(f"{V}/search", {"query": "how do I get a refund", "mode": mode, "k": 5, "answer": True}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert {r["document_id"] for r in body["results"]} <= {docs.ours.pk, docs.spare.pk}, mode
        assert body["results"][0]["document_id"] == docs.ours.pk and body["results"][0]["scores"]
        assert (body["route"] is not None) == (mode == "auto")
    assert body["answer"]["sentences"][0]["citation"]["document_id"] == docs.ours.pk
    assert "mode" in assert_problem(client.post(f"{V}/search", {"query": "x", "mode": "magic"}, format="json"), 400)["errors"]
    assert "filters.min_authority" in assert_problem(client.post(f"{V}/search", {"query": "x", "filters": {"min_authority": 7}}, format="json"), 400)["errors"]


def test_feedback_on_another_tenants_passage_is_refused(world):
    docs = _docs(world)
    client = client_as(world, "viewer")
    theirs = docs.theirs.chunks.first()
    body = assert_problem(client.post(f"{V}/feedback", {"chunk_id": theirs.pk, "value": "down"}, format="json"), 400)
    assert f"No passage {theirs.pk} in this tenant" in str(body["errors"])
    assert client.post(f"{V}/feedback", {"chunk_id": docs.our_chunk.pk, "value": "down", "query": "refunds"}, format="json").status_code == 201
    assert list(Feedback.objects.values_list("tenant_id", "chunk_id", "value")) == [(world.tenant.pk, docs.our_chunk.pk, -1)]


def test_feedback_again_on_the_same_passage_changes_the_members_vote_with_200(world):
    docs = _docs(world)
    client = client_as(world, "viewer")
    first = client.post(f"{V}/feedback", {"chunk_id": docs.our_chunk.pk, "value": "up"}, format="json")
    again = client.post(f"{V}/feedback", {"chunk_id": docs.our_chunk.pk, "value": "down"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert list(Feedback.objects.values_list("chunk_id", "value")) == [(docs.our_chunk.pk, -1)]


def test_a_fetched_url_that_is_empty_unreadable_or_redirects_to_a_private_address_is_a_400_naming_url(world):
    routes = {
        "/empty": reply(200, "", "text/plain"),
        "/broken.pdf": reply(200, b"%PDF-1.4 broken", "application/pdf"),
        "/blank": reply(200, "<html><body> </body></html>", "text/html"),
        "/away": reply(302, "", "text/plain", Location="http://127.0.0.1:6379/"),
    }
    client = client_as(world, "editor")
    with serve(routes) as server:
        world.tenant.outbound_allowlist = [server.allow]  # this host and port only: not the redirect's
        world.tenant.save(update_fields=["outbound_allowlist"])
        for path, message in [("/empty", "is empty"), ("/broken.pdf", "could not be read as a PDF"), ("/blank", "has no text"), ("/away", "loopback")]:
            body = assert_problem(client.post(f"{V}/documents", {"url": server.url(path)}, format="json"), 400)
            assert list(body["errors"]) == ["url"] and message in body["errors"]["url"][0], (path, body)
    assert not Document.objects.exists()


def test_patch_changes_metadata_and_delete_removes_the_chunks(world):
    docs = _docs(world)
    client = client_as(world, "editor")
    response = client.patch(f"{V}/documents/{docs.ours.pk}", {"tags": ["Policy"], "authority": 0.9}, format="json")
    assert response.status_code == 200 and response.json()["tags"] == ["policy"] and response.json()["authority"] == 0.9
    assert client.delete(f"{V}/documents/{docs.ours.pk}").status_code == 204
    assert not Chunk.objects.filter(document_id=docs.ours.pk).exists()
