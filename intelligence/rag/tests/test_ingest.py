"""Ingestion through the real parts: parsers, chunker, the ONNX model, the database."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from actions.web.tests.pages import LONG_WITH_A_REAL_REPEAT, REPEATED, SHORT_ARTICLE, deeply_nested_page
from actions.web.tests.server import reply, serve
from circuits.records.models import Record
from intelligence.rag.chunking import chunk_text
from intelligence.rag.embeddings import configured_model_id, get_embedder
from intelligence.rag.ingest import DeleteDocument, IngestDocument
from intelligence.rag.models import Chunk, Document, DocumentStatus, Feedback
from intelligence.rag.parsing import parse_html, parse_markdown
from intelligence.rag.tests.helpers import chunk_texts, make_inflating_pdf, make_pdf

pytestmark = pytest.mark.django_db

HANDBOOK = """# Employee handbook

Welcome to Acme. This handbook explains how we work.

## Expenses

Submit receipts within 30 days. Meals over 50 EUR need a manager's approval. Travel is booked through the portal.

## Security

Laptops must use full-disk encryption. Report a lost badge to security@acme.test within one hour.
"""


def test_a_markdown_document_is_chunked_by_heading_with_exact_offsets_and_embedded(world, ingest):
    result = ingest(world.tenant, world.editor, "handbook.md", HANDBOOK, tags=["HR", "policy"], authority=0.9)
    document = result.document
    document.refresh_from_db()
    assert result.changed and document.title == "Employee handbook"
    assert document.tags == ["hr", "policy"] and document.authority == 0.9
    chunks = list(document.chunks.order_by("ordinal"))
    assert [c.heading for c in chunks] == ["Employee handbook", "Employee handbook › Expenses", "Employee handbook › Security"]
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
    assert "Meals over 50 EUR" in chunks[1].text and "encryption" in chunks[2].text
    # Every chunk has a unit vector from the configured model, and the document says it is done.
    assert all(c.embedding_model == configured_model_id() for c in chunks)
    assert all(abs(float(np.linalg.norm(c.embedding)) - 1.0) < 1e-3 for c in chunks)
    assert (document.status, document.chunk_count, document.embedded_count, document.progress) == (DocumentStatus.READY, 3, 3, 1.0)


def test_long_sections_are_split_at_sentences_with_overlap(world, ingest, settings):
    settings.RAG_CHUNK_CHARS, settings.RAG_CHUNK_OVERLAP = 200, 60
    body = " ".join(f"Clause {i} of the contract sets a rule." for i in range(40))
    document = ingest(world.tenant, world.editor, "contract.txt", body, markdown=False).document
    texts = chunk_texts(document)
    assert len(texts) > 5
    assert all(len(t) <= 200 for t in texts)
    assert all(t.startswith("Clause") and t.endswith("rule.") for t in texts)  # whole sentences
    for before, after in itertools.pairwise(texts):
        assert after.split(". ")[0] + "." in before  # the next chunk repeats the previous one's last sentence


def test_html_keeps_the_main_text_and_headings_but_not_scripts_or_navigation(world, ingest_file):
    html = b"""<html><head><title>Pricing</title><script>var secret = 'tracking';</script></head><body>
      <nav><a href="/">Home</a> <a href="/about">About us</a></nav>
      <article><h1>Pricing plans</h1><p>The Team plan costs 12 EUR per seat per month, billed yearly.</p>
      <h2>Discounts</h2><p>Nonprofits get forty percent off every plan after verification.</p></article>
      <footer>Copyright Acme</footer></body></html>"""
    document = ingest_file(world.tenant, world.editor, "pricing.html", html).document
    assert document.source_type == "html" and document.title == "Pricing"
    assert "12 EUR per seat" in document.text and "forty percent" in document.text
    assert "tracking" not in document.text and "About us" not in document.text
    assert document.text.count("12 EUR per seat") == 1  # trafilatura's doubled small <article> is undone
    assert [c.heading for c in document.chunks.order_by("ordinal")][-1] == "Pricing plans › Discounts"


def test_a_short_page_fetched_by_url_is_ingested_with_each_paragraph_once(world, inline_embedding, django_capture_on_commit_callbacks):
    with serve({"/pricing": reply(200, SHORT_ARTICLE, "text/html; charset=utf-8")}) as server:
        world.tenant.outbound_allowlist = [server.allow]
        world.tenant.save(update_fields=["outbound_allowlist"])
        with django_capture_on_commit_callbacks(execute=True):
            document = IngestDocument.from_url(world.tenant, world.editor, url=server.url("/pricing")).execute().document
    assert document.source_type == "url" and document.title == "Pricing"
    assert document.text.count("12 EUR per seat") == 1 and document.text.count("forty percent") == 1
    assert "sales desk" in document.text  # found outside the <article> by trafilatura's recovery: kept


def test_html_keeps_a_paragraph_the_page_really_repeats(world, ingest_file):
    document = ingest_file(world.tenant, world.editor, "kettle.html", LONG_WITH_A_REAL_REPEAT.encode()).document
    assert document.text.count(REPEATED) == 2
    assert [c.heading for c in document.chunks.order_by("ordinal")][-1] == "Kettle care › Safety"


def test_a_huge_deeply_nested_html_file_is_read_from_its_visible_text_in_seconds(world):
    data = deeply_nested_page().encode()  # 4 MB: trafilatura alone took minutes on it
    started = time.monotonic()
    parsed = parse_html(data, "deep.html")
    document = IngestDocument.from_file(world.tenant, world.editor, filename="deep.html", data=data).execute().document  # embedding waits for the commit
    assert time.monotonic() - started < 20  # ~2 s for both
    assert parsed.title == "Deep" and parsed.text.startswith("deep deep deep") and "more than the 20,000" in parsed.meta["extraction"]
    assert document.title == "Deep" and document.text == parsed.text and document.chunk_count > 0


def test_a_pdf_is_read_page_by_page(world, ingest_file):
    pdf = make_pdf([["Quarterly report, Q3.", "Revenue grew 18 percent."], ["Churn fell to 2.1 percent."]], title="Q3 report")
    document = ingest_file(world.tenant, world.editor, "q3.pdf", pdf).document
    assert document.source_type == "pdf" and document.title == "Q3 report"
    assert "Revenue grew 18 percent." in document.text and "Churn fell to 2.1 percent." in document.text
    assert document.status == DocumentStatus.READY


def test_a_record_is_ingested_as_field_lines(world, inline_embedding, django_capture_on_commit_callbacks):
    record = Record.objects.create(tenant=world.tenant, object_type="account", data={"name": "Initech", "industry": "software", "employees": 120})
    with django_capture_on_commit_callbacks(execute=True):
        document = IngestDocument.from_record(world.tenant, world.editor, record).execute().document
    assert document.source == f"record:account:{record.pk}" and document.title == "account: Initech"
    assert "industry: software" in document.text and "employees: 120" in document.text


def test_the_same_content_again_changes_nothing_and_new_content_replaces_every_chunk(world, ingest):
    first = ingest(world.tenant, world.editor, "handbook.md", HANDBOOK)
    old_ids = set(first.document.chunks.values_list("pk", flat=True))
    again = ingest(world.tenant, world.editor, "handbook.md", HANDBOOK, tags=["updated"])
    assert not again.changed and again.document.pk == first.document.pk
    assert set(again.document.chunks.values_list("pk", flat=True)) == old_ids
    assert Document.objects.get(pk=first.document.pk).tags == ["updated"]  # metadata still follows

    changed = ingest(world.tenant, world.editor, "handbook.md", HANDBOOK.replace("30 days", "14 days"))
    assert changed.changed and changed.document.pk == first.document.pk
    assert not Chunk.objects.filter(pk__in=old_ids).exists()
    assert any("14 days" in t for t in chunk_texts(changed.document))
    assert Document.objects.for_tenant(world.tenant).count() == 1


def test_deleting_a_document_removes_its_chunks_and_their_feedback(world, ingest):
    document = ingest(world.tenant, world.editor, "handbook.md", HANDBOOK).document
    chunk = document.chunks.first()
    Feedback.objects.create(tenant=world.tenant, chunk=chunk, value=1, query="expenses")
    DeleteDocument(world.tenant, world.editor, document).execute()
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Chunk.objects.filter(document_id=document.pk).exists()
    assert not Feedback.objects.filter(chunk_id=chunk.pk).exists()


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("empty.txt", b"", "empty.txt is empty"),
        ("photo.png", b"\x89PNG\r\n\x1a\n....", "unsupported file type"),
        ("notes.txt", b"caf\xe9 au lait", "is not UTF-8 text"),
        ("blob.txt", b"abc\x00\x01\x02def", "looks like a binary file"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "could not be read as a PDF"),
        ("fake.pdf", b"hello, not a pdf", "is not a PDF"),
        ("blank.md", b"   \n\n  ", "has no text to index"),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_error_and_nothing_is_saved(world, ingest_file, filename, data, message):
    with pytest.raises(ValidationError) as caught:
        ingest_file(world.tenant, world.editor, filename, data)
    assert message in str(caught.value)
    assert not Document.objects.exists() and not Chunk.objects.exists()


def test_a_pdf_without_text_is_refused(world, ingest_file):
    with pytest.raises(ValidationError, match="no extractable text"):
        ingest_file(world.tenant, world.editor, "scan.pdf", make_pdf([[]]))


def test_size_limits_name_their_setting(world, ingest_file, settings):
    settings.RAG_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(ValidationError, match="RAG_MAX_UPLOAD_BYTES"):
        ingest_file(world.tenant, world.editor, "big.txt", b"word " * 400)
    settings.RAG_MAX_UPLOAD_BYTES, settings.RAG_MAX_CHUNKS_PER_DOCUMENT, settings.RAG_CHUNK_CHARS = 10**6, 3, 100
    with pytest.raises(ValidationError, match="RAG_MAX_CHUNKS_PER_DOCUMENT"):
        ingest_file(world.tenant, world.editor, "long.txt", " ".join(f"Sentence {i} is here." for i in range(100)).encode())
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("chars_per_page", "message"),
    [(1_000_000, "characters of text by page 2"), (20_000_000, "page 1 holds 20,")],
)
def test_a_small_pdf_that_inflates_to_gigabytes_of_text_is_refused_within_seconds(world, ingest_file, chars_per_page, message):
    # 500 pages sharing one compressed content stream: read whole, that is 0.5–10 billion characters.
    data = make_inflating_pdf(500, chars_per_page)
    assert len(data) < 200_000
    started = time.monotonic()
    with pytest.raises(ValidationError, match=message) as caught:
        ingest_file(world.tenant, world.editor, "bomb.pdf", data)
    assert time.monotonic() - started < 10
    assert "RAG_MAX_DOCUMENT_CHARS" in str(caught.value) or "a page may hold" in str(caught.value)
    assert not Document.objects.exists()


def test_a_pdf_of_drawing_operators_without_text_is_refused_once_its_pages_pass_the_content_budget(world, ingest_file, settings):
    settings.RAG_MAX_DOCUMENT_CHARS = 100_000  # a content budget of 1 MB: pages of 300 kB pass it on page 4
    with pytest.raises(ValidationError, match="bytes of page content by page 4"):
        ingest_file(world.tenant, world.editor, "drawing.pdf", make_inflating_pdf(500, 300_000, text=False))
    assert not Document.objects.exists()


@pytest.mark.timeout(20)
@pytest.mark.parametrize("run", [" " * 100_000, "#" * 100_000, " \t#" * 30_000], ids=["spaces", "hashes", "mixed"])
def test_a_heading_with_a_huge_run_of_blanks_or_hashes_is_parsed_and_chunked_in_linear_time(run):
    # The heading pattern used to backtrack quadratically here: 100k characters took minutes, 2 MB hours.
    text = f"# Title{run}x\n\nBody text.\n## Closing ##\nMore."
    parsed = parse_markdown(text.encode(), "long.md")
    pieces = chunk_text(parsed.text, size=800, overlap=150)
    assert parsed.title.startswith("Title") and pieces[-1].heading.endswith("Closing")


def test_a_pdf_whose_metadata_title_is_longer_than_a_title_is_ingested_with_it_cut_to_300_characters(world, ingest_file):
    document = ingest_file(world.tenant, world.editor, "long-title.pdf", make_pdf([["Hello there."]], title="Quarterly report " * 40)).document
    assert document.title.startswith("Quarterly report") and len(document.title) == 300


def test_a_pdf_whose_metadata_title_holds_nul_and_control_characters_is_ingested_with_them_removed(world, ingest_file):
    title = "\xfe\xff" + "".join(f"\x00{c}" for c in "Bad\x00title\x07here")  # UTF-16BE, as PDF strings may be
    document = ingest_file(world.tenant, world.editor, "nul.pdf", make_pdf([["Hello there."]], title=title)).document
    assert document.title == "Badtitle here"


def test_a_page_without_any_title_under_a_long_source_gets_the_source_cut_to_300_characters_as_its_title(world, ingest_file):
    name = "pages/" + "a" * 900 + ".html"
    document = ingest_file(world.tenant, world.editor, name, b"<html><body><p>Plain words, no heading and no title.</p></body></html>").document
    assert document.source == name and document.title == name[:300]


@pytest.mark.parametrize(("field", "value"), [("authority", 1.5), ("authority", "high"), ("tags", "x" * 60), ("tags", [1, 2])])
def test_bad_metadata_is_refused_naming_the_field(world, ingest, field, value):
    with pytest.raises(ValidationError) as caught:
        ingest(world.tenant, world.editor, "a.md", "Some text.", **{field: value})
    assert field in caught.value.message_dict


def test_viewers_and_operators_cannot_ingest_or_delete(world, ingest):
    for role in ("viewer", "operator"):
        with pytest.raises(PermissionDenied):
            ingest(world.tenant, world.user(role), "a.md", "Some text.")
    document = ingest(world.tenant, world.editor, "a.md", "Some text.").document
    with pytest.raises(PermissionDenied):
        DeleteDocument(world.tenant, world.viewer, document).execute()


def test_documents_are_per_tenant_the_same_source_is_two_documents_and_no_tenant_deletes_anothers(world, ingest):
    ours = ingest(world.tenant, world.editor, "handbook.md", HANDBOOK).document
    theirs = ingest(world.other_tenant, world.outsider, "handbook.md", HANDBOOK.replace("Acme", "Globex")).document
    assert ours.pk != theirs.pk
    assert list(Document.objects.for_tenant(world.tenant)) == [ours]
    assert set(Chunk.objects.for_tenant(world.other_tenant).values_list("document_id", flat=True)) == {theirs.pk}
    assert Document.objects.for_tenant(None).count() == 0  # no tenant, no documents
    with pytest.raises(PermissionDenied):  # the outsider is no member of our tenant
        DeleteDocument(world.tenant, world.outsider, ours).execute()
    with pytest.raises(ValidationError, match="another tenant"):
        DeleteDocument(world.tenant, world.owner, theirs).execute()
    assert Document.objects.filter(pk__in=[ours.pk, theirs.pk]).count() == 2


def test_vectors_from_another_model_are_re_embedded(world, ingest):
    from django.core.cache import cache

    from intelligence.rag.tasks import reembed_stale

    cache.delete("rag:reembed-stale")
    document = ingest(world.tenant, world.editor, "handbook.md", HANDBOOK).document
    Chunk.objects.filter(document=document).update(embedding_model="some-older-model")
    Document.objects.filter(pk=document.pk).update(embedded_count=0, status=DocumentStatus.EMBEDDING)
    assert reembed_stale() == 3
    assert reembed_stale() == 0  # the previous run's batches may still be queued: not again yet
    cache.delete("rag:reembed-stale")
    document.refresh_from_db()
    assert set(document.chunks.values_list("embedding_model", flat=True)) == {configured_model_id()}
    assert (document.status, document.embedded_count) == (DocumentStatus.READY, 3)
    assert reembed_stale() == 0  # nothing stale is left


def test_the_model_puts_a_paraphrase_nearer_than_an_unrelated_sentence():
    a, b, c = get_embedder().embed(["How do I get my money back?", "Refund requests are accepted within 30 days.", "The office plants need water."])
    assert float(a @ b) > float(a @ c) + 0.15


def test_the_model_loads_and_embeds_with_every_network_connection_refused():
    """Nothing is fetched at run time: a fresh process whose sockets cannot connect still embeds."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import socket\n"
        "def refuse(*a, **k):\n    raise OSError('network used')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
        "import django, os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'circuitos_site.settings_test')\ndjango.setup()\n"
        "from intelligence.rag.embeddings import get_embedder\n"
        "import os as o\nassert o.environ['HF_HUB_OFFLINE'] == '1'\n"
        "print(get_embedder().embed(['offline check']).shape)\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("(1, 384)")
