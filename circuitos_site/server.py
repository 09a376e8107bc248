"""daphne with request bodies limited while twisted reads them (what `manage.py serve` runs).

daphne collects a request's whole body (in a temporary file past 100 kB) before the ASGI
application sees the request, so no middleware can stop a 1 GiB upload: it is on disk by
then. `LimitedWebRequest` counts the body as it arrives instead; past the path's limit
(`circuitos_site.limits.body_limit_for`) — or at once for a Content-Length above it — it
answers 413 problem+json and stores nothing more. The connection then closes the way a
careful server closes on a client that is still uploading: it sends the answer, shuts its
own side and reads-and-discards for up to LINGER_SECONDS, so the client reads the 413
instead of a connection reset.
"""

from __future__ import annotations

# daphne.server installs the asyncio reactor; it has to be imported before anything else
# from twisted.
import daphne.server  # isort:skip

import io
from urllib.parse import unquote, urlsplit

from daphne.http_protocol import HTTPFactory, WebRequest
from twisted.internet import reactor

from circuitos_site.limits import WEBHOOK_PREFIX, body_limit_for, largest_body_limit, too_large_detail
from circuits.core import metrics
from circuits.core.problems import PROBLEM_CONTENT_TYPE, problem_bytes

LINGER_SECONDS = 5.0


def _discard(_data: bytes) -> None:
    return None


class LimitedWebRequest(WebRequest):
    _body_limit: int = 0
    _body_seen: int = 0
    _body_refused: bool = False
    _linger = None
    _limited_path = ""

    def _limit_for_this_request(self) -> int:
        # The request line is kept on the HTTP/1.1 channel until the body is complete; an
        # HTTP/2 stream has none, so it gets the largest limit of any path.
        uri = getattr(self.channel, "_path", None)
        if not isinstance(uri, bytes):
            return largest_body_limit()
        self._limited_path = unquote(urlsplit(uri.decode("latin-1")).path)
        return body_limit_for(self._limited_path)

    def gotLength(self, length: int | None) -> None:
        self._body_limit = self._limit_for_this_request()
        if length is not None and length > self._body_limit:
            self.content = io.BytesIO()
            # No "100 Continue" for a body that is refused anyway.
            self.requestHeaders.removeHeader(b"Expect")
            self._refuse(too_large_detail(self._body_limit, length))
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._body_refused:
            return
        self._body_seen += len(data)
        if self._body_seen > self._body_limit:
            self.content.close()  # a temporary file: gone with what it held
            self.content = io.BytesIO()
            self._refuse(too_large_detail(self._body_limit))
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._body_refused:
            # The client finished sending after all: nothing is left unread, close now.
            transport = getattr(self.channel, "transport", None)
            if transport is not None:
                transport.loseConnection()
            return
        super().requestReceived(command, path, version)

    def _refuse(self, detail: str) -> None:
        self._body_refused = True
        if self._limited_path.startswith(WEBHOOK_PREFIX):  # refused before the webhook view could count it
            metrics.webhook_rejected("payload_too_large")
        channel = self.channel
        transport = getattr(channel, "transport", None)
        if transport is None:
            return
        body = problem_bytes(413, detail, code="payload_too_large")
        head = (
            b"HTTP/1.1 413 Content Too Large\r\n"
            + b"Content-Type: " + PROBLEM_CONTENT_TYPE.encode() + b"\r\n"
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            + b"Connection: close\r\n\r\n"
        )  # fmt: skip
        transport.write(head + body)
        # Whatever else arrives on this connection is dropped unparsed.
        channel.dataReceived = _discard
        try:
            transport.loseWriteConnection()
        except (AttributeError, NotImplementedError):  # a transport that cannot half-close
            transport.loseConnection()
            return
        self._linger = reactor.callLater(LINGER_SECONDS, transport.abortConnection)

    def connectionLost(self, reason) -> None:
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        super().connectionLost(reason)


class LimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = LimitedWebRequest
        return protocol


class LimitedServer(daphne.server.Server):
    """daphne's Server with `LimitedHTTPFactory`: `Server.run()` assigns `self.http_factory
    = HTTPFactory(self)`; this property keeps everything else of run() and swaps the factory."""

    @property
    def http_factory(self) -> LimitedHTTPFactory | None:
        return self.__dict__.get("_limited_http_factory")

    @http_factory.setter
    def http_factory(self, factory: HTTPFactory) -> None:
        self.__dict__["_limited_http_factory"] = factory if isinstance(factory, LimitedHTTPFactory) else LimitedHTTPFactory(self)
