"""Turn an upload (text, Markdown, HTML, PDF) or a record into the text that gets chunked.

Each reader raises `ParseError` with a message a person can act on ("report.pdf is
encrypted", "notes.txt is not UTF-8 text"), never a library's traceback.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import lxml.etree
import lxml.html

from actions.html_text import TooManyElements, main_text
from intelligence.rag.chunking import HEADING, heading_title
from intelligence.rag.models import SourceType

logger = logging.getLogger(__name__)


class ParseError(ValueError):
    """The file cannot be read as the kind of document it claims to be."""


@dataclass
class Parsed:
    text: str
    title: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


EXTENSIONS = {
    ".txt": SourceType.TEXT,
    ".text": SourceType.TEXT,
    ".md": SourceType.MARKDOWN,
    ".markdown": SourceType.MARKDOWN,
    ".html": SourceType.HTML,
    ".htm": SourceType.HTML,
    ".pdf": SourceType.PDF,
}
CONTENT_TYPES = {
    "text/plain": SourceType.TEXT,
    "text/markdown": SourceType.MARKDOWN,
    "text/x-markdown": SourceType.MARKDOWN,
    "text/html": SourceType.HTML,
    "application/xhtml+xml": SourceType.HTML,
    "application/pdf": SourceType.PDF,
}
FILE_TYPES = (SourceType.TEXT, SourceType.MARKDOWN, SourceType.HTML, SourceType.PDF)


def detect_type(filename: str, content_type: str = "", data: bytes = b"") -> str:
    """The source type from the file's name, else its content type, else its first bytes."""
    name = (filename or "").lower()
    for ext, kind in EXTENSIONS.items():
        if name.endswith(ext):
            return kind
    media = (content_type or "").split(";")[0].strip().lower()
    if media in CONTENT_TYPES:
        return CONTENT_TYPES[media]
    head = data[:1024].lstrip().lower()
    if head.startswith(b"%pdf-"):
        return SourceType.PDF
    if head.startswith((b"<!doctype html", b"<html")):
        return SourceType.HTML
    if not filename and not media:
        return SourceType.TEXT
    raise ParseError(f"{filename or 'the file'}: unsupported file type {media or '(unknown)'}; upload .txt, .md, .html or .pdf (or name the type).")


def normalise(text: str) -> str:
    """One newline convention, no NULs or stray control characters, no trailing spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise ParseError(f"{name} looks like a binary file, not text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name} is not UTF-8 text (invalid byte at position {exc.start}).") from None


def parse_text(data: bytes, name: str = "the file") -> Parsed:
    text = normalise(_decode(data, name))
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Parsed(text=text, title=first[:120])


def parse_markdown(data: bytes, name: str = "the file") -> Parsed:
    text = normalise(_decode(data, name))
    heading = HEADING.search(text)
    return Parsed(text=text, title=((heading_title(heading) if heading else "") or next(iter(text.splitlines()), ""))[:200])


def parse_html(data: bytes | str, name: str = "the page", url: str | None = None) -> Parsed:
    if isinstance(data, bytes):
        try:
            html = data.decode("utf-8-sig")
        except UnicodeDecodeError:  # older pages: Windows-1252 is what browsers assume
            html = data.decode("cp1252", errors="replace")
    else:
        html = data
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html, count=1)
    try:
        doc = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ParseError(f"{name} could not be read as HTML: {exc}") from None
    title = " ".join((doc.findtext(".//title") or "").split())
    # Markdown output keeps the page's headings, which the chunker uses as section breaks.
    meta: dict[str, Any] = {}
    try:
        text = main_text(html, url=url, output_format="markdown")
    except TooManyElements as exc:
        meta["extraction"] = str(exc)  # why the text is the whole page, not its main text
        logger.info("%s: %s", name, exc)
        text = ""
    if not text.strip():
        for element in list(doc.iter("script", "style", "noscript", "template", "head")):
            element.drop_tree()
        text = "\n".join(" ".join(line.split()) for line in doc.text_content().splitlines())
    text = normalise(text)
    if not title:
        heading = HEADING.search(text)
        title = heading_title(heading) if heading else ""
    return Parsed(text=text, title=title[:300], meta=meta)


# Budgets for the pages' decompressed content streams, checked before pypdf interprets a page's
# operators (~2.5 s per MB here), which is where a small PDF that inflates (one 75 MB content
# stream shared by every page) would spend hours and gigabytes. Text pages run at 2–10 bytes of
# content a character and a dense page at a few hundred kB; a page over 4 MB is a drawing or a bomb.
PDF_CONTENT_BYTES_PER_CHAR = 10
PDF_MAX_PAGE_CONTENT_BYTES = 4_000_000


def parse_pdf(data: bytes, name: str = "the file", *, max_pages: int = 500, max_chars: int = 2_000_000) -> Parsed:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    if not data.lstrip()[:5] == b"%PDF-":
        raise ParseError(f"{name} is not a PDF (it does not start with %PDF-).")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ParseError(f"{name} is encrypted; upload a copy without a password.")
        if len(reader.pages) > max_pages:
            raise ParseError(f"{name} has {len(reader.pages)} pages; the limit is {max_pages} (RAG_MAX_PDF_PAGES).")
        pages = _pdf_pages(reader, name, max_chars)
        info = reader.metadata
        title = str(info.title) if info is not None and info.title else ""
    except ParseError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise ParseError(f"{name} could not be read as a PDF: {exc}") from None
    text = normalise("\n\n".join(p.strip() for p in pages if p.strip()))
    if not text:
        raise ParseError(f"{name} has no extractable text (a scanned PDF needs OCR first).")
    # Metadata titles are unbounded; a document's title holds 300 characters.
    title = " ".join(normalise(title).split())[:300]  # and no NUL, which PostgreSQL cannot store
    return Parsed(text=text, title=title or next(iter(text.splitlines()), "")[:120], meta={"pages": len(pages)})


def _pdf_pages(reader, name: str, max_chars: int) -> list[str]:
    """Each page's text, stopping as soon as the document is over its text or content budget
    (counted as the pages are read, not after all of them)."""
    pages: list[str] = []
    chars = content_bytes = 0
    for page in reader.pages:
        contents = page.get_contents()
        size = len(contents.get_data()) if contents is not None else 0
        if size > PDF_MAX_PAGE_CONTENT_BYTES:
            raise ParseError(f"{name}: page {len(pages) + 1} holds {size:,} bytes of content; a page may hold {PDF_MAX_PAGE_CONTENT_BYTES:,}.")
        content_bytes += size
        if content_bytes > PDF_CONTENT_BYTES_PER_CHAR * max_chars:
            raise ParseError(
                f"{name} holds more than {PDF_CONTENT_BYTES_PER_CHAR * max_chars:,} bytes of page content by page {len(pages) + 1}; "
                f"the limit follows RAG_MAX_DOCUMENT_CHARS ({max_chars:,} characters)."
            )
        text = page.extract_text() or ""
        chars += len(text)
        if chars > max_chars:
            raise ParseError(
                f"{name} has more than {max_chars:,} characters of text by page {len(pages) + 1}; the limit is {max_chars:,} (RAG_MAX_DOCUMENT_CHARS)."
            )
        pages.append(text)
    return pages


def parse_record(object_type: str, data: dict, title_fields: tuple[str, ...] = ("name", "title", "company", "email")) -> Parsed:
    """A record as 'field: value' lines, so its facts can be retrieved like any passage."""
    lines = [f"# {object_type.replace('_', ' ').title()}"]
    for key, value in data.items():
        if value in (None, "", [], {}):
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        lines.append(f"{key.replace('_', ' ')}: {shown}")
    title = next((str(data[f]) for f in title_fields if data.get(f)), object_type)
    return Parsed(text=normalise("\n".join(lines)), title=f"{object_type}: {title}"[:300])


def parse_file(data: bytes, source_type: str, name: str, *, max_pdf_pages: int = 500, max_chars: int = 2_000_000) -> Parsed:
    if source_type == SourceType.TEXT:
        return parse_text(data, name)
    if source_type == SourceType.MARKDOWN:
        return parse_markdown(data, name)
    if source_type == SourceType.HTML:
        return parse_html(data, name)
    if source_type == SourceType.PDF:
        return parse_pdf(data, name, max_pages=max_pdf_pages, max_chars=max_chars)
    raise ParseError(f"{name}: {source_type!r} is not a file type; use one of {', '.join(FILE_TYPES)}.")
