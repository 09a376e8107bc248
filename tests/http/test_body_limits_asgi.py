"""The ASGI layer's own limits (circuitos_site/limits.py), driven through the site's real
ASGI application the way any ASGI server drives it: message by message.

daphne is covered by the live tests; these hold for servers that stream bodies to the
application as they arrive (uvicorn, hypercorn), where the middleware is the only guard.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from django.conf import settings

from circuitos_site.asgi import application

CHUNK = 64 * 1024


def _scope(path: str, headers: list[tuple[bytes, bytes]], query: bytes = b"") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(scope: dict, chunks: list[bytes] | None = None, total_chunks: int = 0):
    """Run the application; the body is `chunks`, or `total_chunks` chunks of CHUNK bytes made
    on demand. Returns (status, headers, body, chunks the application pulled)."""
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        count = len(chunks) if chunks is not None else total_chunks
        if pulled >= count:
            await asyncio.Event().wait()  # like a server: nothing more until the client leaves
        body = chunks[pulled] if chunks is not None else b"x" * CHUNK
        pulled += 1
        return {"type": "http.request", "body": body, "more_body": pulled < count}

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body, pulled


async def test_a_chunked_body_past_the_limit_is_refused_as_soon_as_it_passes_it():
    limit = settings.MAX_REQUEST_BODY_BYTES
    # 64 MiB offered, no Content-Length: reading must stop right after the limit.
    status, headers, body, pulled = await _call(_scope("/api/v1/circuits", [(b"content-type", b"application/json")]), total_chunks=1024)
    assert status == 413 and headers[b"content-type"] == b"application/problem+json"
    assert json.loads(body)["type"] == "urn:circuitos:problem:payload-too-large"
    assert pulled == limit // CHUNK + 1


async def test_a_declared_length_above_the_limit_is_refused_without_reading():
    too_big = str(settings.MAX_REQUEST_BODY_BYTES + 1).encode()
    status, _headers, body, pulled = await _call(_scope("/api/v1/circuits", [(b"content-length", too_big)]), total_chunks=1024)
    assert status == 413 and pulled == 0
    assert f"{settings.MAX_REQUEST_BODY_BYTES:,}" in json.loads(body)["detail"]


async def test_a_body_longer_than_its_content_length_is_cut_off_at_the_limit():
    # A length within the limit, then more bytes than it said (a broken or hostile server path).
    status, _headers, _body, pulled = await _call(_scope("/hooks/none", [(b"content-length", b"10")]), total_chunks=1024)
    assert status == 413
    assert pulled == settings.WEBHOOK_MAX_BODY_BYTES // CHUNK + 1


@pytest.mark.django_db(transaction=True)
async def test_webhooks_may_receive_more_than_the_site_wide_limit_and_no_more_than_their_own():
    assert settings.WEBHOOK_MAX_BODY_BYTES > settings.MAX_REQUEST_BODY_BYTES
    chunks = settings.MAX_REQUEST_BODY_BYTES // CHUNK + 2  # over the site-wide limit, under the webhooks' one
    status, _headers, body, pulled = await _call(_scope("/hooks/no-such-hook", []), total_chunks=chunks)
    assert (status, pulled) == (404, chunks)  # read in full and routed: the hook does not exist
    assert json.loads(body)["detail"] == "No webhook at this address."


async def test_a_nul_in_the_path_or_query_string_is_400_before_routing():
    for path, query in (("/hooks/abc\x00", b""), ("/api/v1/circuits", b"search=%00"), ("/t/acme/", b"q=%FF%FE")):
        status, headers, body, _pulled = await _call(_scope(path, [], query), chunks=[b""])
        assert status == 400 and headers[b"content-type"] == b"application/problem+json", (path, query)
        assert json.loads(body)["status"] == 400


@pytest.mark.django_db(transaction=True)
async def test_document_uploads_may_carry_a_file_up_to_the_upload_limit_and_no_more():
    # 4 MiB: above the site-wide limit, within RAG_MAX_UPLOAD_BYTES. Anonymous, so the view
    # answers 401/403 — proof that the body limit let it through to authentication.
    size = 4 * 1024 * 1024
    assert settings.MAX_REQUEST_BODY_BYTES < size < settings.RAG_MAX_UPLOAD_BYTES
    declared = [(b"content-type", b"application/octet-stream"), (b"content-length", str(size).encode())]
    for path in ("/api/v1/documents", "/t/acme/documents/"):
        status, _headers, _body, _pulled = await _call(_scope(path, declared), total_chunks=size // CHUNK)
        assert status != 413, path
    # Anywhere else the same body is too large, and so is a document above the upload limit.
    status, *_ = await _call(_scope("/api/v1/circuits", declared), total_chunks=size // CHUNK)
    assert status == 413
    too_big = str(settings.RAG_MAX_UPLOAD_BYTES + 128 * 1024).encode()
    status, _headers, _body, pulled = await _call(_scope("/api/v1/documents", [(b"content-length", too_big)]), total_chunks=1024)
    assert status == 413 and pulled == 0
