"""web.scrape — fetch a web page and keep what a person (or a model) would read."""

from __future__ import annotations

import codecs
import re
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree
import lxml.html

from actions.html_text import TooManyElements, main_text
from actions.net import GuardedResponse, display_url, guarded_request
from actions.sdk import Action, ActionError, Context, register
from actions.web.http_request import check_http_url, validated

HTML_TYPES = ("text/html", "application/xhtml+xml")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
# Elements whose text nobody sees.
_INVISIBLE = ("script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas")
# Elements that start a new line when the page is flattened to text.
_BLOCKS = (
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section",
    "article", "header", "footer", "nav", "aside", "main", "blockquote", "pre", "dd", "dt", "hr", "form",
)  # fmt: skip
_SKIPPED_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "about:", "blob:")


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


@register
class Scrape(Action):
    name = "web.scrape"
    idempotent = True  # a GET: fetching again is as good as once
    category = "web"
    label = "Scrape Website"
    description = "Fetch a web page and extract its main text, title, description, metadata and links."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {"title": "URL", "description": "The http:// or https:// address of the page.", "type": "string", "minLength": 1},
            "include_links": {
                "title": "Include links",
                "description": "Also list the page's links (absolute, without duplicates).",
                "type": "boolean",
                "default": True,
            },
            "max_links": {
                "title": "Maximum links",
                "description": "Keep at most this many links.",
                "type": "integer",
                "minimum": 0,
                "maximum": 1000,
                "default": 100,
            },
            "max_chars": {
                "title": "Maximum characters",
                "description": "Cut the extracted text to this many characters.",
                "type": "integer",
                "minimum": 1,
                "maximum": 1_000_000,
                "default": 20_000,
            },
            "timeout_seconds": {
                "title": "Timeout (seconds)",
                "description": "Give up after this long (never past the step's own deadline).",
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 300,
                "default": 30,
            },
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "The final URL, after redirects."},
            "status": {"type": "integer"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "text": {"type": "string", "description": "The main text of the page."},
            "truncated": {"type": "boolean", "description": "Whether the text was cut at max_chars."},
            "meta": {"type": "object", "description": "canonical, language, author, keywords, published, og: and twitter: tags."},
            "links": {"type": "array", "items": {"type": "object", "properties": {"href": {"type": "string"}, "text": {"type": "string"}}}},
        },
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        return check_http_url("url", config.get("url"))

    def run(self, ctx: Context, config: dict) -> dict:
        config = validated(type(self), config)
        url = config["url"]
        response = guarded_request(
            ctx.tenant,
            "GET",
            url,
            headers={"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"},
            timeout=ctx.time_left(float(config.get("timeout_seconds", 30))),
        )
        ctx.log(f"GET {display_url(response.url)} → {response.status_code} in {response.elapsed_ms} ms")
        if response.status_code >= 400:
            raise ActionError(f"HTTP {response.status_code} {response.reason_phrase} from {display_url(response.url)}".rstrip())
        media = response.content_type
        if media and media not in HTML_TYPES:
            raise ActionError(f"{display_url(response.url)} is not a web page: its content type is {media}")
        if not media and not response.content.lstrip()[:1] == b"<":
            raise ActionError(f"{display_url(response.url)} is not a web page (no content type, and the body is not HTML)")

        html = _decode(response)
        try:
            doc = lxml.html.document_fromstring(html)
        except (lxml.etree.ParserError, ValueError) as exc:
            raise ActionError(f"{display_url(response.url)} could not be read as HTML: {exc}") from None

        base = _base_url(doc, response.url)
        meta = _metadata(doc, base)
        # Not trafilatura's `deduplicate`: its memory of seen text is process-wide, so the third
        # scrape of one page in a worker came back empty. main_text undoes its own repeats.
        try:
            text = main_text(html, url=response.url)
        except TooManyElements as exc:
            ctx.log(str(exc))
            text = ""
        if not text.strip():
            text = _visible_text(doc)
        max_chars = config.get("max_chars", 20_000)
        truncated = len(text) > max_chars
        title = _squash(doc.findtext(".//title")) or meta["og"].get("title", "") or _squash(_first_text(doc, "h1"))
        description = meta.get("description") or meta["og"].get("description", "")
        links = _links(doc, base, config.get("max_links", 100)) if config.get("include_links", True) else []
        return {
            "url": response.url,
            "status": response.status_code,
            "title": title,
            "description": description,
            "text": text[:max_chars],
            "truncated": truncated,
            "meta": meta,
            "links": links,
        }


def _decode(response: GuardedResponse) -> str:
    """The page as text: the HTTP charset, else the page's <meta charset>, else UTF-8."""
    charset = response.charset
    if charset is None:
        found = _META_CHARSET.search(response.content[:4096])
        if found:
            try:
                charset = codecs.lookup(found.group(1).decode("ascii")).name
            except LookupError:
                charset = None
    html = response.content.decode(charset or "utf-8", errors="replace")
    # lxml refuses str input that still declares an encoding.
    return _XML_DECLARATION.sub("", html, count=1)


def _first_text(doc: Any, tag: str) -> str:
    found = doc.find(f".//{tag}")
    return found.text_content() if found is not None else ""


def _base_url(doc: Any, page_url: str) -> str:
    base = doc.find(".//base[@href]")
    if base is not None:
        href = base.get("href", "").strip()
        if href:
            return urljoin(page_url, href)
    return page_url


def _metadata(doc: Any, base: str) -> dict:
    meta: dict[str, Any] = {"og": {}, "twitter": {}}
    for tag in doc.iter("meta"):
        key = (tag.get("property") or tag.get("name") or "").strip().lower()
        content = _squash(tag.get("content"))
        if not key or not content:
            continue
        if key.startswith("og:"):
            meta["og"].setdefault(key[3:], content)
        elif key.startswith("twitter:"):
            meta["twitter"].setdefault(key[8:], content)
        elif key in ("description", "author", "keywords"):
            meta.setdefault(key, content)
        elif key in ("article:published_time", "date", "dc.date", "pubdate"):
            meta.setdefault("published", content)
    canonical = next((link.get("href") for link in doc.iter("link") if "canonical" in (link.get("rel") or "").lower().split() and link.get("href")), None)
    if canonical:
        meta["canonical"] = urljoin(base, canonical.strip())
    elif meta["og"].get("url"):
        meta["canonical"] = urljoin(base, meta["og"]["url"])
    language = doc.get("lang") or doc.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not language:
        for tag in doc.iter("meta"):
            if (tag.get("http-equiv") or "").lower() == "content-language" and tag.get("content"):
                language = tag.get("content")
                break
    language = language or meta["og"].get("locale", "").replace("_", "-")
    if language:
        meta["language"] = language.strip()
    return meta


def _visible_text(doc: Any) -> str:
    """Everything a visitor would see, one block per line (used when trafilatura finds no main text)."""
    body = doc.find("body")
    tree = lxml.html.fromstring(lxml.html.tostring(body if body is not None else doc))
    for element in list(tree.iter(*_INVISIBLE)):
        element.drop_tree()
    for element in tree.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCKS:
            element.text = "\n" + (element.text or "")  # a block starts a line …
            element.tail = "\n" + (element.tail or "")  # … and ends one
    lines = (_squash(line) for line in tree.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _links(doc: Any, base: str, limit: int) -> list[dict]:
    links: list[dict] = []
    seen: set[str] = set()
    for anchor in doc.iter("a"):
        if len(links) >= limit:
            break
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith("#") or href.lower().startswith(_SKIPPED_SCHEMES):
            continue
        absolute = urldefrag(urljoin(base, href))[0]
        if urlsplit(absolute).scheme not in ("http", "https") or absolute in seen:
            continue
        seen.add(absolute)
        text = _squash(anchor.text_content()) or _squash(anchor.get("title")) or _squash(anchor.get("aria-label"))
        links.append({"href": absolute, "text": text[:300]})
    return links
