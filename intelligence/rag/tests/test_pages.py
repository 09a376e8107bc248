"""The Documents and Search pages: the tenant access suite, then what a person sees and does."""

from __future__ import annotations

import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from intelligence.rag.ingest import IngestDocument
from intelligence.rag.models import Chunk, Document, Feedback
from tests.access import Page, TenantAccessSuite

pytestmark = pytest.mark.django_db
_n = itertools.count()


def _t(world) -> str:
    return f"/t/{world.tenant.slug}"


def _doc(world, tenant=None) -> Document:
    tenant = tenant or world.tenant
    actor = world.owner if tenant == world.tenant else world.outsider
    n = next(_n)
    return IngestDocument.from_text(tenant, actor, text=f"# Doc {n}\nRefunds are paid within {n} days.", source=f"doc-{n}.md").execute().document


class TestRetrievalPagesAccess(TenantAccessSuite):
    pages = [
        Page("documents", lambda w: f"{_t(w)}/documents/"),
        Page("document", lambda w: f"{_t(w)}/documents/{_doc(w).pk}"),
        Page(
            "upload",
            lambda w: f"{_t(w)}/documents/",
            perm="edit",
            method="post",
            data=lambda w: {"file": SimpleUploadedFile(f"up-{next(_n)}.md", b"# Up\nUploaded text.", "text/markdown"), "tags": "a"},
        ),
        Page("delete", lambda w: f"{_t(w)}/documents/{_doc(w).pk}/delete", perm="edit", method="post"),
        Page("search", lambda w: f"{_t(w)}/search/?q=refunds&mode=sparse"),
        Page("feedback", lambda w: f"{_t(w)}/search/feedback", method="post", data=lambda w: {"chunk_id": _doc(w).chunks.first().pk, "value": "up"}),
    ]


def test_another_tenants_document_is_404_on_its_page_and_for_delete(client_for, world):
    theirs = _doc(world, world.other_tenant)
    client = client_for(world.owner)
    assert client.get(f"{_t(world)}/documents/{theirs.pk}").status_code == 404
    assert client.post(f"{_t(world)}/documents/{theirs.pk}/delete").status_code == 404
    assert Document.objects.filter(pk=theirs.pk).exists()


def test_upload_lists_the_document_with_progress_and_its_page_shows_the_chunks(client_for, world):
    client = client_for(world.editor)
    text = b"# Warranty\nSensors carry a five year warranty.\n\n## Claims\nSend the serial number to support."
    response = client.post(f"{_t(world)}/documents/", {"file": SimpleUploadedFile("warranty.md", text, "text/markdown"), "tags": "legal, terms"})
    assert response.status_code == 302
    page = client.get(f"{_t(world)}/documents/").content.decode()
    document = Document.objects.for_tenant(world.tenant).get(source="warranty.md")
    assert "Warranty" in page and "0/2" in page and 'hx-trigger="every 2s"' in page  # embedding: the rows refresh themselves
    assert document.tags == ["legal", "terms"]
    detail = client.get(f"{_t(world)}/documents/{document.pk}").content.decode()
    assert 'id="chunk-0"' in detail and 'id="chunk-1"' in detail and "Send the serial number to support." in detail
    assert "waiting for its vector" in detail


def test_a_bad_upload_shows_the_error_and_saves_nothing(client_for, world):
    response = client_for(world.editor).post(f"{_t(world)}/documents/", {"file": SimpleUploadedFile("scan.pdf", b"%PDF-1.4 broken", "application/pdf")})
    assert response.status_code == 400
    assert "scan.pdf could not be read as a PDF" in response.content.decode()
    assert not Document.objects.exists()


@pytest.mark.parametrize("field", ["title", "tags", "source"])
def test_a_nul_character_in_the_forms_title_tags_or_source_is_a_400_naming_the_field(client_for, world, field):
    form = {"text": "# Notes\nSome text.", "source": "notes.md", "title": "Notes", "tags": "a,b", field: "bad\x00value"}
    response = client_for(world.editor).post(f"{_t(world)}/documents/", form)
    assert response.status_code == 400
    assert f"The {field} contains a NUL character" in response.content.decode()
    assert not Document.objects.exists()


def test_feedback_from_the_playground_with_a_nul_in_its_query_is_stored_without_it(client_for, world, ingest):
    chunk = ingest(world.tenant, world.editor, "refunds.md", "# Refunds\nMoney back within 30 days.").document.chunks.get()
    response = client_for(world.viewer).post(f"{_t(world)}/search/feedback", {"chunk_id": chunk.pk, "value": "up", "q": "refund\x00 policy"})
    assert response.status_code == 200
    assert Feedback.objects.get().query == "refund policy"


def test_the_search_playground_shows_the_route_the_breakdown_and_the_answer_and_takes_feedback(client_for, world, ingest):
    ingest(world.tenant, world.editor, "refunds.md", "# Refund policy\nCustomers may return a purchase within 30 days for their money back.")
    ingest(world.other_tenant, world.outsider, "theirs.md", "# Refund policy\nGlobex never refunds anything.")
    client = client_for(world.viewer)
    page = client.get(f"{_t(world)}/search/", {"q": "current refund policy", "mode": "auto"}).content.decode()
    assert "Route: company_facts" in page and "rule:" in page
    assert "Score breakdown" in page and "dense_norm" in page and "recency" in page
    assert "within 30 days" in page and "Globex" not in page
    chunk = Chunk.objects.for_tenant(world.tenant).get()
    assert f"/t/acme/documents/{chunk.document_id}#chunk-0" in page  # the citation links to the passage
    response = client.post(f"{_t(world)}/search/feedback", {"chunk_id": chunk.pk, "value": "up", "q": "current refund policy"})
    assert response.status_code == 200 and "marked helpful" in response.content.decode()
    assert Feedback.objects.get().value == 1
    theirs = Chunk.objects.for_tenant(world.other_tenant).get()
    assert client.post(f"{_t(world)}/search/feedback", {"chunk_id": theirs.pk, "value": "down"}).status_code == 400
    bad = client.get(f"{_t(world)}/search/", {"q": "refunds", "mode": "magic"})
    assert bad.status_code == 400 and "Unknown mode" in bad.content.decode()
