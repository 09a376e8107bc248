"""web.search_news — read RSS/Atom feeds and keep the items that match."""

from __future__ import annotations

import calendar
import html
import io
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import feedparser
import lxml.etree
import lxml.html

from actions.net import display_url, guarded_request
from actions.sdk import Action, ActionError, ConfigError, Context, is_template, register
from actions.web.http_request import check_http_url, validated

MAX_FEEDS = 20
SUMMARY_CHARS = 2_000
FEED_BYTES = 5_000_000
_RELATIVE = re.compile(r"^\s*(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)\s*$", re.I)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """ "7d", "24h", "30m", "2w", an ISO date ("2024-05-01", midnight UTC) or datetime (UTC if naive)."""
    now = now or datetime.now(UTC)
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        unit = _UNITS[relative.group(2)[0].lower()]
        return now - timedelta(**{unit: int(relative.group(1))})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            raise ValueError(f"since: {value!r} is not a date, a date-time or a relative time like 7d, 24h or 30m") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _plain(text: str | None) -> str:
    """HTML (or plain text with entities) → one line of plain text."""
    if not text:
        return ""
    if "<" in text:
        try:
            text = lxml.html.fragment_fromstring(text, create_parent="div").text_content()
        except (lxml.etree.ParserError, ValueError):
            text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(html.unescape(text).split())


def _published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            # feedparser normalises dates to UTC struct_time.
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    return None


def _matcher(query: str | None):
    words = (query or "").split()
    patterns = [re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.I) for word in words]
    return lambda text: all(p.search(text) for p in patterns)


@register
class SearchNews(Action):
    name = "web.search_news"
    idempotent = True  # a GET: fetching again is as good as once
    category = "web"
    label = "Search News"
    description = "Read RSS and Atom feeds, keep the items that match a query and a date, newest first."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["feeds"],
        "properties": {
            "feeds": {
                "title": "Feeds",
                "description": f"RSS or Atom feed URLs (1 to {MAX_FEEDS}).",
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "minItems": 1,
                "maxItems": MAX_FEEDS,
            },
            "query": {
                "title": "Query",
                "description": "Keep items whose title or summary contains all of these words (any case). Empty keeps everything.",
                "type": "string",
                "default": "",
            },
            "since": {
                "title": "Since",
                "description": "Keep items published after this: a date (2024-05-01), a date-time, or a relative time like 7d, 24h, 30m.",
                "type": "string",
            },
            "limit": {"title": "Limit", "description": "Return at most this many items.", "type": "integer", "minimum": 1, "maximum": 500, "default": 20},
            "timeout_seconds": {
                "title": "Timeout (seconds)",
                "description": "Give up on feeds that have not answered after this long (never past the step's own deadline).",
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 300,
                "default": 20,
            },
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string"},
                        "link": {"type": "string"},
                        "summary": {"type": "string", "description": "Plain text."},
                        "published": {"type": ["string", "null"], "description": "ISO 8601, UTC; null when the feed gives no date."},
                        "source": {"type": "string", "description": "The feed's title."},
                        "feed_url": {"type": "string"},
                    },
                },
            },
            "count": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"feed": {"type": "string"}, "error": {"type": "string"}}}},
        },
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        errors = []
        feeds = config.get("feeds")
        if isinstance(feeds, list):
            for index, feed in enumerate(feeds):
                errors += check_http_url(f"feeds.{index}", feed)
        since = config.get("since")
        if isinstance(since, str) and since.strip() and not is_template(since):
            try:
                parse_since(since)
            except ValueError as exc:
                errors.append(str(exc))
        return errors

    def run(self, ctx: Context, config: dict) -> dict:
        config = validated(type(self), config)
        feeds = list(dict.fromkeys(f.strip() for f in config["feeds"]))
        since = None
        if (config.get("since") or "").strip():
            try:
                since = parse_since(config["since"])
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        matches = _matcher(config.get("query"))
        # One deadline for every feed: a feed queued behind the first eight still ends with the step.
        until = time.monotonic() + ctx.time_left(float(config.get("timeout_seconds", 20)))
        tenant = ctx.tenant

        def fetch(feed: str) -> tuple[str, list[dict] | None, str | None]:
            try:
                return feed, _read_feed(tenant, feed, max(0.0, until - time.monotonic())), None
            except ActionError as exc:
                return feed, None, str(exc)
            except Exception as exc:  # a feed the parser chokes on must not sink the others
                return feed, None, f"{type(exc).__name__}: {exc}"

        # Feeds are fetched side by side; each still goes through the guard on its own.
        with ThreadPoolExecutor(max_workers=min(8, len(feeds)), thread_name_prefix="news-feed") as pool:
            results = list(pool.map(fetch, feeds))

        items: list[tuple[datetime | None, int, dict]] = []
        errors = []
        for feed, feed_items, error in results:
            if error is not None:
                errors.append({"feed": feed, "error": error})
                ctx.log(f"feed {display_url(feed)} failed: {error}", level="warning")
                continue
            for item in feed_items or []:
                when = item.pop("_when")
                if since is not None and (when is None or when < since):
                    continue  # an undated item cannot be shown to be recent enough
                if not matches(f"{item['title']}\n{item['summary']}"):
                    continue
                items.append((when, len(items), item))
        if errors and len(errors) == len(feeds):
            raise ActionError("every feed failed: " + "; ".join(f"{display_url(e['feed'])}: {e['error']}" for e in errors))

        # Newest first; undated items last, in feed order.
        items.sort(key=lambda entry: (entry[0] is None, -(entry[0].timestamp() if entry[0] else 0), entry[1]))
        kept: list[dict] = []
        seen: set[Any] = set()
        for _, _, item in items:
            key = item["link"] or (item["feed_url"], item["title"])
            if key in seen:
                continue
            seen.add(key)
            kept.append(item)
            if len(kept) >= config.get("limit", 20):
                break
        ctx.log(f"{len(kept)} item(s) from {len(feeds) - len(errors)} of {len(feeds)} feed(s)")
        return {"items": kept, "count": len(kept), "errors": errors}


def _read_feed(tenant: Any, feed_url: str, timeout: float) -> list[dict]:
    response = guarded_request(tenant, "GET", feed_url, headers={"Accept": _ACCEPT}, timeout=timeout, max_bytes=FEED_BYTES)
    if response.status_code >= 400:
        raise ActionError(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
    # A stream, never bytes or str: feedparser would treat those as a path or a URL and open it.
    parsed = feedparser.parse(
        io.BytesIO(response.content),
        response_headers={"content-location": response.url, "content-type": response.headers.get("content-type", "application/xml")},
    )
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise ActionError("not an RSS or Atom feed" + (f" ({problem})" if problem else ""))
    source = _plain(parsed.feed.get("title")) or display_url(response.url)
    items = []
    for entry in parsed.entries:
        link = entry.get("link") or next((lnk.get("href") for lnk in entry.get("links", []) if lnk.get("href")), "")
        summary = entry.get("summary") or next((c.get("value") for c in entry.get("content", []) if c.get("value")), "")
        summary = _plain(summary)
        if len(summary) > SUMMARY_CHARS:
            summary = summary[: SUMMARY_CHARS - 1].rstrip() + "…"
        when = _published(entry)
        items.append(
            {
                "title": _plain(entry.get("title")),
                "link": link,
                "summary": summary,
                "published": when.isoformat() if when else None,
                "source": source,
                "feed_url": feed_url,
                "_when": when,
            }
        )
    return items
