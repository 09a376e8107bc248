"""Request limits enforced at the ASGI layer, before Django routes or authenticates anything.

Bodies: every `http.request` message is counted as it arrives and the request is answered
413 problem+json as soon as the total passes the path's limit (MAX_REQUEST_BODY_BYTES, or
WEBHOOK_MAX_BODY_BYTES under /hooks/); a Content-Length above it is refused without reading
a byte. A body without Content-Length (HTTP/1.1 chunked) is buffered — it is bounded by the
same limit — and handed to Django with its length: DRF takes a request without
CONTENT_LENGTH for one without a body, so a chunked JSON body to /api/v1 read as empty.

Query strings and paths: a NUL character (`%00`) or bytes that are not UTF-8 once
percent-decoded get 400 problem+json here; past this point every view may assume text the
database can store.

daphne itself reads a whole body before handing it to the application, so
`circuitos_site.server` applies the same limits inside daphne while the bytes arrive; this
middleware keeps them true under any ASGI server and makes chunked bodies readable.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from django.conf import settings

from circuits.core.problems import PROBLEM_CONTENT_TYPE, problem_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

WEBHOOK_PREFIX = "/hooks/"
# Document uploads (API and the Documents page) may carry a file up to RAG_MAX_UPLOAD_BYTES,
# plus the multipart envelope around it; the upload view checks the file's own size.
DOCUMENT_UPLOAD = re.compile(r"^(/api/v1/documents|/t/[^/]+/documents/)$")
MULTIPART_ENVELOPE = 64 * 1024


def _upload_limit() -> int:
    return int(settings.RAG_MAX_UPLOAD_BYTES) + MULTIPART_ENVELOPE


def body_limit_for(path: str) -> int:
    """The largest body accepted for `path` (webhooks and document uploads may be allowed more)."""
    limit = int(settings.MAX_REQUEST_BODY_BYTES)
    if path.startswith(WEBHOOK_PREFIX):
        return max(limit, int(settings.WEBHOOK_MAX_BODY_BYTES))
    if DOCUMENT_UPLOAD.match(path):
        return max(limit, _upload_limit())
    return limit


def largest_body_limit() -> int:
    return max(int(settings.MAX_REQUEST_BODY_BYTES), int(settings.WEBHOOK_MAX_BODY_BYTES), _upload_limit())


def too_large_detail(limit: int, declared: int | None = None) -> str:
    if declared is not None:
        return f"The body is {declared:,} bytes; at most {limit:,} are accepted here."
    return f"The body is larger than the {limit:,} bytes accepted here."


def text_problem(path: str, query_string: bytes) -> str | None:
    """Why the path or query string is refused (NUL, not UTF-8), or None."""
    if "\x00" in path:
        return "The path contains a NUL character (%00)."
    try:
        decoded = unquote_to_bytes(query_string.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return "The query string is not valid UTF-8 once percent-decoded."
    if "\x00" in decoded:
        return "The query string contains a NUL character (%00)."
    return None


async def send_problem(send: Send, status: int, detail: str, *, code: str = "", title: str = "") -> None:
    body = problem_bytes(status, detail, code=code, title=title)
    headers = [(b"content-type", PROBLEM_CONTENT_TYPE.encode()), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _content_length(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            return value.strip()
    return None


class RequestLimitMiddleware:
    """Wraps the Django ASGI app: refuses oversized bodies and unstorable query text early."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = text_problem(scope.get("path", ""), scope.get("query_string", b"") or b"")
        if refusal is not None:
            await send_problem(send, 400, refusal, code="bad_request")
            return
        limit = body_limit_for(scope.get("path", ""))
        declared = _content_length(scope.get("headers", []))
        if declared is None:
            await self._buffered(scope, receive, send, limit)
        elif not declared.isdigit():
            await send_problem(send, 400, "Content-Length must be a number of bytes.", code="bad_request")
        elif int(declared) > limit:
            await send_problem(send, 413, too_large_detail(limit, int(declared)), code="payload_too_large")
        else:
            await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """A declared length within the limit: pass the body through, counting anyway (a
        server that delivers more than it declared still cannot make Django spool it)."""
        state = {"seen": 0, "over": False, "started": False}

        async def counting_receive() -> Message:
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > limit:
                    # Django's handler stops reading at a disconnect and answers nothing.
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, counting_receive, watching_send)
        if state["over"] and not state["started"]:
            await send_problem(send, 413, too_large_detail(limit), code="payload_too_large")

    async def _buffered(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """No Content-Length: read the (bounded) body first, then give Django its length."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; nobody to answer
            if message["type"] != "http.request":
                continue
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await send_problem(send, 413, too_large_detail(limit), code="payload_too_large")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        headers = [(name, value) for name, value in scope.get("headers", []) if name.lower() not in (b"transfer-encoding", b"content-length")]
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def replaying_receive() -> Message:
            # The body once, then the client's later messages (Django listens for a disconnect).
            return replay.pop() if replay else await receive()

        await self.app({**scope, "headers": headers}, replaying_receive, send)
