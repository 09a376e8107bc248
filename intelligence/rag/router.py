"""The query router (placeholder until the classifier lands): every query takes the default route."""

from __future__ import annotations


def route_query(query: str):
    from intelligence.rag.search import Route

    return Route(reason="default hybrid route")
