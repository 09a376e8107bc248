"""Web actions: HTTP requests, scraping, news feeds. Every request goes through actions.net."""

from actions.web import http_request, news, scrape  # noqa: F401  (importing registers the actions)
