"""web.search_news against real local RSS and Atom feeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from actions.sdk import ActionError, registry
from actions.web.news import parse_since

from .server import reply, serve

NOW = datetime.now(UTC).replace(microsecond=0)


def rss_date(days_ago: float) -> str:
    return format_datetime(NOW - timedelta(days=days_ago))


def iso(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def rss() -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Town News</title><link>http://town.example.test/</link><description>Local</description>
  <item>
    <title>Riverside park approved</title>
    <link>http://town.example.test/park</link>
    <description>&lt;p&gt;The council &lt;b&gt;approved&lt;/b&gt; the park.&lt;/p&gt;</description>
    <pubDate>{rss_date(1)}</pubDate>
  </item>
  <item>
    <title>Bridge repairs delayed</title>
    <link>http://town.example.test/bridge</link>
    <description>Repairs to the old bridge slip to autumn.</description>
    <pubDate>{rss_date(10)}</pubDate>
  </item>
  <item>
    <title>Undated notice about the park</title>
    <link>http://town.example.test/notice</link>
    <description>No date on this one.</description>
  </item>
</channel></rss>"""


def atom() -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Regional Wire</title>
  <id>urn:wire</id><updated>{iso(0)}</updated>
  <entry>
    <title>Park plans draw praise</title>
    <link href="/stories/park-praise"/>
    <id>urn:wire:1</id>
    <updated>{iso(0.5)}</updated>
    <summary type="html">&lt;em&gt;Residents&lt;/em&gt; welcome the riverside park.</summary>
  </entry>
  <entry>
    <title>Riverside park approved (wire copy)</title>
    <link href="http://town.example.test/park"/>
    <id>urn:wire:2</id>
    <updated>{iso(2)}</updated>
    <content type="html">&lt;p&gt;Same story, syndicated.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Parking fees rise</title>
    <link href="http://wire.example.test/parking"/>
    <id>urn:wire:3</id>
    <updated>{iso(3)}</updated>
    <summary>Fees in the centre go up.</summary>
  </entry>
</feed>"""


def feeds_server():
    return serve(
        {
            "/rss.xml": lambda seen, raw: reply(200, rss(), "application/rss+xml; charset=utf-8")(seen, raw),
            "/atom.xml": lambda seen, raw: reply(200, atom(), "application/atom+xml")(seen, raw),
            "/page.html": reply(200, "<html><body><p>Not a feed</p></body></html>", "text/html"),
            "/gone.xml": reply(404, "gone"),
        }
    )


def action():
    return registry.get("web.search_news")()


def test_search_news_merges_feeds_newest_first_with_plain_text_and_iso_dates(ctx, allow):
    with feeds_server() as server:
        allow(server.allow)
        output = action().run(ctx, {"feeds": [server.url("/rss.xml"), server.url("/atom.xml")]})
    items = output["items"]
    assert [i["title"] for i in items] == [
        "Park plans draw praise",
        "Riverside park approved",  # the wire copy (2 days) shares its link with this one (1 day): kept once, newest
        "Parking fees rise",
        "Bridge repairs delayed",
        "Undated notice about the park",  # undated items come last
    ]
    assert output["count"] == 5 and output["errors"] == []
    first, park = items[0], items[1]
    assert first["link"] == server.url("/stories/park-praise")  # a relative Atom link, made absolute
    assert first["summary"] == "Residents welcome the riverside park."
    assert first["source"] == "Regional Wire"
    assert first["feed_url"] == server.url("/atom.xml")
    assert first["published"] == (NOW - timedelta(days=0.5)).isoformat()
    assert park["summary"] == "The council approved the park."
    assert park["source"] == "Town News"
    assert park["published"] == (NOW - timedelta(days=1)).isoformat()
    assert items[-1]["published"] is None
    json.dumps(output)


def test_search_news_filters_by_all_query_words_and_since(ctx, allow):
    with feeds_server() as server:
        allow(server.allow)
        feeds = [server.url("/rss.xml"), server.url("/atom.xml")]
        park = action().run(ctx, {"feeds": feeds, "query": "PARK"})
        riverside_park = action().run(ctx, {"feeds": feeds, "query": "riverside park"})
        recent = action().run(ctx, {"feeds": feeds, "since": "36h"})
        since_date = action().run(ctx, {"feeds": feeds, "since": (NOW - timedelta(days=5)).date().isoformat(), "limit": 2})
    # Whole words: "park" does not match "Parking".
    assert [i["title"] for i in park["items"]] == ["Park plans draw praise", "Riverside park approved", "Undated notice about the park"]
    assert [i["title"] for i in riverside_park["items"]] == ["Park plans draw praise", "Riverside park approved"]
    assert [i["title"] for i in recent["items"]] == ["Park plans draw praise", "Riverside park approved"]
    assert [i["title"] for i in since_date["items"]] == ["Park plans draw praise", "Riverside park approved"]
    assert since_date["count"] == 2


def test_search_news_reports_failing_feeds_without_failing_the_others(ctx, allow):
    with feeds_server() as server, serve({"/rss.xml": reply(200, "unused")}) as unlisted:
        allow(server.allow)
        feeds = [server.url("/gone.xml"), server.url("/page.html"), unlisted.url("/rss.xml"), server.url("/rss.xml")]
        output = action().run(ctx, {"feeds": feeds})
    assert output["count"] == 3
    errors = {e["feed"]: e["error"] for e in output["errors"]}
    assert errors[server.url("/gone.xml")] == "HTTP 404 Not Found"
    assert errors[server.url("/page.html")].startswith("not an RSS or Atom feed")
    assert errors[unlisted.url("/rss.xml")].startswith("refused: 127.0.0.1 is a loopback address")
    assert unlisted.requests == []
    assert any(log["level"] == "warning" for log in ctx.logs)


def test_search_news_fails_when_every_feed_fails(ctx, allow):
    with feeds_server() as server:
        allow(server.allow)
        with pytest.raises(ActionError, match=r"every feed failed: .*HTTP 404 Not Found.*not an RSS or Atom feed"):
            action().run(ctx, {"feeds": [server.url("/gone.xml"), server.url("/page.html")]})


def test_search_news_refuses_loopback_without_allowlist(ctx):
    with feeds_server() as server, pytest.raises(ActionError, match=r"refused: 127\.0\.0\.1 is a loopback address"):
        action().run(ctx, {"feeds": [server.url("/rss.xml")]})
    assert server.requests == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "config: 'feeds' is a required property"),
        ({"feeds": []}, "feeds: [] should be non-empty"),
        ({"feeds": [f"http://example.com/{n}" for n in range(21)]}, "feeds: "),
        ({"feeds": ["file:///etc/passwd"]}, "feeds.0: must be an http:// or https:// URL"),
        ({"feeds": ["http://example.com/rss"], "since": "last tuesday"}, "since: 'last tuesday' is not a date"),
        ({"feeds": ["http://example.com/rss"], "limit": 0}, "limit: 0 is less than the minimum of 1"),
    ],
)
def test_search_news_bad_config_errors_name_the_field(config, expected):
    errors = registry.get("web.search_news").validate_config(config)
    assert any(error.startswith(expected) for error in errors), errors


def test_since_understands_relative_times_dates_and_datetimes():
    now = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("30 min", now) == now - timedelta(minutes=30)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("2024-05-01", now) == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2024-05-01T08:30:00+02:00", now) == datetime(2024, 5, 1, 6, 30, tzinfo=UTC)
    assert parse_since("2024-05-01T08:30:00Z", now) == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
