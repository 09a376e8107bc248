"""Paging: page numbers for the small lists, a cursor for executions (large and always growing)."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ExecutionCursorPagination(CursorPagination):
    # Newest first; the cursor stays stable while new executions keep arriving.
    ordering = ("-created_at", "-pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
