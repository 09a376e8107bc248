"""web.scrape against real local servers."""

from __future__ import annotations

import json
import time

import pytest

from actions.net import BlockedDestinationError
from actions.sdk import ActionError, registry

from .pages import LONG_WITH_A_REAL_REPEAT, REPEATED, SHORT_ARTICLE, deeply_nested_page
from .server import redirect, reply, serve

HTML = "text/html; charset=utf-8"

ARTICLE = """<!doctype html>
<html lang="en-GB">
<head>
  <title>  Riverside park approved | Town News </title>
  <meta name="description" content="The council said yes to the riverside park.">
  <meta property="og:title" content="Riverside park approved">
  <meta property="og:description" content="A new park by the river.">
  <meta property="og:image" content="https://cdn.example.test/park.jpg">
  <meta property="og:type" content="article">
  <meta name="twitter:card" content="summary">
  <meta name="author" content="Jo Reporter">
  <meta property="article:published_time" content="2024-05-01T09:00:00Z">
  <link rel="canonical" href="/news/riverside-park">
  <script>var tracking = "do not show me";</script>
  <style>body { color: red }</style>
</head>
<body>
  <nav><a href="/">Home</a> <a href="/news/">News</a> <a href="/news/#top">News again</a></nav>
  <article>
    <h1>Riverside park approved</h1>
    <p>The council approved the new riverside park on Tuesday after a long debate about its costs and benefits for the town.</p>
    <p>Work begins in spring and should finish within two years, officials said, with a playground and a small café.</p>
    <p>Read <a href="other-story.html">the other story</a> or <a href="https://elsewhere.example.test/x#frag">a partner site</a>.</p>
  </article>
  <footer><a href="mailto:desk@example.test">Mail us</a> <a href="javascript:void(0)">Menu</a> <a href="/">Home</a></footer>
</body>
</html>
"""


def action():
    return registry.get("web.scrape")()


def test_scrape_extracts_text_title_metadata_and_links(ctx, allow):
    with serve({"/news/riverside-park": reply(200, ARTICLE, HTML)}) as server:
        allow(server.allow)
        output = action().run(ctx, {"url": server.url("/news/riverside-park")})
    base = f"http://127.0.0.1:{server.port}"
    assert output["status"] == 200
    assert output["url"] == f"{base}/news/riverside-park"
    assert output["title"] == "Riverside park approved | Town News"
    assert output["description"] == "The council said yes to the riverside park."
    assert "approved the new riverside park on Tuesday" in output["text"]
    assert "playground and a small café" in output["text"]
    assert "do not show me" not in output["text"] and "color: red" not in output["text"]
    assert output["truncated"] is False
    meta = output["meta"]
    assert meta["canonical"] == f"{base}/news/riverside-park"
    assert meta["language"] == "en-GB"
    assert meta["author"] == "Jo Reporter"
    assert meta["published"] == "2024-05-01T09:00:00Z"
    assert meta["og"] == {
        "title": "Riverside park approved",
        "description": "A new park by the river.",
        "image": "https://cdn.example.test/park.jpg",
        "type": "article",
    }
    assert meta["twitter"] == {"card": "summary"}
    assert output["links"] == [
        {"href": f"{base}/", "text": "Home"},
        {"href": f"{base}/news/", "text": "News"},
        {"href": f"{base}/news/other-story.html", "text": "the other story"},
        {"href": "https://elsewhere.example.test/x", "text": "a partner site"},
    ]
    json.dumps(output)


def test_scrape_gives_each_paragraph_of_a_short_article_once_and_keeps_real_repeats(ctx, allow):
    with serve({"/short": reply(200, SHORT_ARTICLE, HTML), "/long": reply(200, LONG_WITH_A_REAL_REPEAT, HTML)}) as server:
        allow(server.allow)
        short = action().run(ctx, {"url": server.url("/short"), "include_links": False})
        long = action().run(ctx, {"url": server.url("/long"), "include_links": False})
    assert short["text"].count("12 EUR per seat") == 1 and short["text"].count("forty percent") == 1
    assert "sales desk" in short["text"] and "About us" not in short["text"]
    assert long["text"].count(REPEATED) == 2


def test_scraping_the_same_page_again_and_again_returns_the_same_text(ctx, allow):
    # trafilatura's `deduplicate` remembers text across calls in the process: from the third
    # scrape of a page on, it dropped the article and the navigation-laden fallback came back.
    with serve({"/news/riverside-park": reply(200, ARTICLE, HTML)}) as server:
        allow(server.allow)
        texts = [action().run(ctx, {"url": server.url("/news/riverside-park"), "include_links": False})["text"] for _ in range(4)]
    assert len(set(texts)) == 1 and "riverside park on Tuesday" in texts[0] and "News again" not in texts[0]


def test_scrape_falls_back_to_the_visible_text_when_there_is_no_main_text(ctx, allow):
    page = "<html><head><title>Side</title><script>hidden()</script></head><body><aside><b>Opening hours</b><p>Mon to Fri, 9 to 5</p></aside></body></html>"
    with serve({"/": reply(200, page, HTML)}) as server:
        allow(server.allow)
        output = action().run(ctx, {"url": server.url("/"), "include_links": False})
    assert output["text"] == "Opening hours\nMon to Fri, 9 to 5"
    assert output["links"] == []


def test_scrape_reads_the_visible_text_of_a_huge_deeply_nested_page_in_seconds(ctx, allow):
    with serve({"/deep": reply(200, deeply_nested_page(), HTML)}) as server:
        allow(server.allow)
        started = time.monotonic()
        output = action().run(ctx, {"url": server.url("/deep"), "include_links": False, "max_chars": 1000})
    assert time.monotonic() - started < 15  # ~2 s; trafilatura alone took minutes on this page
    assert output["title"] == "Deep" and output["text"].startswith("deep deep deep") and output["truncated"] is True
    assert any("HTML elements, more than the 20,000 main-text extraction takes" in entry["message"] for entry in ctx.logs)


def test_scrape_decodes_the_charset_the_page_declares_and_cuts_to_max_chars(ctx, allow):
    page = '<html><head><meta charset="iso-8859-1"><title>Café menu</title></head><body><p>Crème brûlée</p></body></html>'.encode("latin-1")
    with serve({"/": reply(200, page, "text/html")}) as server:
        allow(server.allow)
        output = action().run(ctx, {"url": server.url("/"), "max_chars": 5})
    assert output["title"] == "Café menu"
    assert output["text"] == "Crème"
    assert output["truncated"] is True


def test_scrape_follows_redirects_and_resolves_links_against_the_final_page(ctx, allow):
    page = '<html><body><p>Moved here.</p><a href="next">Next</a></body></html>'
    with serve({"/old": redirect("/new/page"), "/new/page": reply(200, page, HTML)}) as server:
        allow(server.allow)
        output = action().run(ctx, {"url": server.url("/old")})
    assert output["url"] == server.url("/new/page")
    assert output["links"] == [{"href": server.url("/new/next"), "text": "Next"}]


def test_scrape_refuses_a_response_that_is_not_html(ctx, allow):
    with serve({"/data.json": reply(200, '{"a": 1}', "application/json"), "/missing": reply(404, "<html>gone</html>", HTML)}) as server:
        allow(server.allow)
        with pytest.raises(ActionError, match="is not a web page: its content type is application/json"):
            action().run(ctx, {"url": server.url("/data.json")})
        with pytest.raises(ActionError, match="HTTP 404 Not Found from"):
            action().run(ctx, {"url": server.url("/missing")})


def test_scrape_refuses_loopback_without_allowlist(ctx):
    with serve({"/": reply(200, ARTICLE, HTML)}) as server:
        with pytest.raises(BlockedDestinationError, match=r"127\.0\.0\.1 is a loopback address"):
            action().run(ctx, {"url": server.url("/")})
        with pytest.raises(BlockedDestinationError, match=r"localhost resolves to 127\.0\.0\.1"):
            action().run(ctx, {"url": server.url("/", host="localhost")})
    assert server.requests == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "config: 'url' is a required property"),
        ({"url": "gopher://example.com/"}, "url: must be an http:// or https:// URL"),
        ({"url": "http://example.com", "max_chars": 0}, "max_chars: 0 is less than the minimum of 1"),
        ({"url": "http://example.com", "include_links": "yes"}, "include_links: 'yes' is not of type 'boolean'"),
    ],
)
def test_scrape_bad_config_errors_name_the_field(config, expected):
    errors = registry.get("web.scrape").validate_config(config)
    assert any(error.startswith(expected) for error in errors), errors
