"""The outbound HTTP guard: the one way actions make HTTP requests.

Every request an action makes on a tenant's behalf goes through `guarded_request`, which

- accepts only http and https URLs;
- resolves the host itself and refuses when ANY resolved address is private, loopback,
  link-local, multicast, reserved, unspecified, carrier-grade NAT, a cloud metadata
  address, or an IPv6 wrapper (IPv4-mapped, 6to4, Teredo, NAT64) around one of those —
  unless the tenant's `outbound_allowlist` names it;
- connects to the address it checked (the URL's host is swapped for the IP; the Host
  header and the TLS SNI/certificate check keep the real name), so a DNS answer that
  changes between the check and the connect (DNS rebinding) cannot reach anything else;
- follows redirects itself, checking every hop the same way and dropping credentials
  when a redirect leaves the origin;
- streams the body and stops past `max_bytes` (counted after decompression);
- holds the whole exchange (DNS, connect, every read) to one `timeout`;
- sends the step's `idempotency_key`, when given, as the `Idempotency-Key` header (unless
  the caller set one), so a step re-run after its worker died repeats the same key.

Allow-list entries (strings, case-insensitive; the one parser is actions/allowlist.py):
    "localhost"            a host name, any port ("*.corp.example": its subdomains)
    "localhost:8080"       a host name on one port
    "127.0.0.1"            an address, any port       "[::1]" / "::1" for IPv6
    "127.0.0.1:8080"       an address on one port     "[::1]:8080" for IPv6
    "10.0.0.0/8"           a network (CIDR), any port
A cloud metadata address (169.254.169.254, fd00:ec2::254, 100.100.100.200) is only allowed by an entry that
names that single address (or a host name resolving to it), never by a wider network or a wildcard.

Usage:
    from actions.net import guarded_request
    response = guarded_request(ctx.tenant, "POST", url, json=payload, timeout=ctx.time_left(10))
    response.status_code, response.json(), response.text, response.url, response.elapsed_ms
"""

from __future__ import annotations

import codecs
import contextlib
import ipaddress
import json as _json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from functools import cached_property
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from actions.allowlist import METADATA_ADDRESSES, AllowListError, Rule, entry_errors, normalise_host, parse_entry
from actions.sdk import ActionError

__all__ = [
    "BlockedDestinationError",
    "GuardedResponse",
    "InvalidURLError",
    "OutboundError",
    "OutboundTimeoutError",
    "ResponseTooLargeError",
    "TooManyRedirectsError",
    "allowlist_errors",
    "allowlisted",
    "check_url",
    "display_url",
    "guarded_request",
]

USER_AGENT = "CircuitOS/0.1 (+outbound)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers that carry credentials: never sent on to another origin after a redirect.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = METADATA_ADDRESSES

# httpx logs every request's full URL at INFO — query string included, where API keys often
# live, and with the pinned IP instead of the name. Callers log a redacted form instead.
logging.getLogger("httpx").setLevel(logging.WARNING)

# DNS lookups run here so a hung resolver cannot outlive the request's timeout.
_resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="outbound-dns")


# --------------------------------------------------------------------------- errors


class OutboundError(ActionError):
    """An outbound HTTP request could not be made or completed."""


class InvalidURLError(OutboundError):
    """The URL is malformed or not http/https."""


class BlockedDestinationError(OutboundError):
    """The destination is a non-public address the tenant's allow-list does not name."""


class ResponseTooLargeError(OutboundError):
    """The response body is larger than allowed."""


class OutboundTimeoutError(OutboundError):
    """The exchange did not finish within its timeout."""


class TooManyRedirectsError(OutboundError):
    """More redirects than allowed."""


# --------------------------------------------------------------------------- response


@dataclass
class GuardedResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str  # the final URL, after redirects
    elapsed_ms: int
    reason_phrase: str = ""
    redirects: list[str] = field(default_factory=list)  # URLs that redirected, in order

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case ("" when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for param in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                name = value.strip().strip("\"'")
                try:
                    return codecs.lookup(name).name
                except LookupError:
                    return None
        return None

    @cached_property
    def text(self) -> str:
        return self.content.decode(self.charset or "utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; ActionError when it is not JSON."""
        try:
            return _json.loads(self.content.decode(self.charset or "utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise OutboundError(f"the response from {display_url(self.url)} is not valid JSON: {exc}") from None

    @property
    def is_json(self) -> bool:
        media = self.content_type
        return media == "application/json" or media.endswith("+json")


# --------------------------------------------------------------------------- allow-list


def allowlist_errors(entries: Any) -> list[str]:
    """Problems with an allow-list (the one parser: actions/allowlist.py)."""
    return entry_errors(entries)


def allowlisted(tenant: Any, host: str, port: int) -> bool:
    """Whether the tenant's allow-list names `host` on `port` — by name, or as an address (no DNS lookup)."""
    host = normalise_host(host).strip("[]")
    try:
        ip: _Address | None = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for rule in _rules_for(tenant):
        if rule.host is None and ip is None:
            continue  # a network entry cannot judge a name without resolving it
        if rule.matches(host, port, ip if ip is not None else ipaddress.IPv4Address(0)):  # host rules ignore the address
            return True
    return False


def _rules_for(tenant: Any) -> list[Rule]:
    rules = []
    for entry in getattr(tenant, "outbound_allowlist", None) or []:
        try:
            rules.append(parse_entry(entry))
        except AllowListError:
            continue  # an invalid entry allows nothing; forms report it via allowlist_errors
    return rules


# --------------------------------------------------------------------------- address checks

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _blocked_reason(ip: _Address) -> str | None:
    """Why `ip` must not be reached without the allow-list, or None for a public address."""
    if ip in _METADATA:
        return "the cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address reach that address: judge the inner one.
        embedded = []
        if ip.ipv4_mapped is not None:
            embedded.append(("an IPv4-mapped form of", ip.ipv4_mapped))
        if ip.sixtofour is not None:
            embedded.append(("a 6to4 form of", ip.sixtofour))
        if ip.teredo is not None:
            embedded.append(("a Teredo form of", ip.teredo[1]))
        if ip in _NAT64:
            embedded.append(("a NAT64 form of", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
        for label, inner in embedded:
            reason = _blocked_reason(inner)
            if reason is not None:
                return f"{label} {inner}, {reason}"
        if ip.ipv4_mapped is not None or ip in _NAT64:
            return None  # the wrapped IPv4 address is public
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a carrier-grade NAT (100.64.0.0/10) address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # ASCII (IDNA) host, lower-case, no trailing dot, no brackets
    port: int

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def display_url(url: Any) -> str:
    """A URL safe to show in messages and logs: no user-info, no query string (may hold keys)."""
    try:
        parsed = httpx.URL(str(url))
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    host = parsed.host
    host = f"[{host}]" if ":" in host else host
    port = f":{parsed.port}" if parsed.port else ""
    query = "?…" if parsed.query else ""
    return f"{parsed.scheme}://{host}{port}{parsed.path}{query}"


def _parse_url(url: Any) -> httpx.URL:
    if isinstance(url, httpx.URL):
        parsed = url
    else:
        if not isinstance(url, str) or not url.strip():
            raise InvalidURLError("refused: the URL is empty")
        try:
            parsed = httpx.URL(url.strip())
        except httpx.InvalidURL as exc:
            raise InvalidURLError(f"refused: {url!r} is not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        shown = parsed.scheme or "none"
        raise InvalidURLError(f"refused: only http and https URLs are allowed (the scheme of {display_url(parsed)} is {shown})")
    if not parsed.host:
        raise InvalidURLError(f"refused: {url!s} has no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise InvalidURLError(f"refused: port {parsed.port} is out of range")
    return parsed


def _target(url: httpx.URL) -> _Target:
    host = normalise_host(url.raw_host.decode("ascii"))
    port = url.port or (443 if url.scheme == "https" else 80)
    return _Target(url.scheme, host, port)


def _resolve(target: _Target, deadline: float) -> list[_Address]:
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        return [literal]
    future = _resolver.submit(socket.getaddrinfo, target.host, target.port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(0.001, deadline - time.monotonic()))
    except FutureTimeout:
        raise OutboundTimeoutError(f"timed out resolving {target.host}") from None
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise OutboundError(f"cannot resolve {target.host}: {getattr(exc, 'strerror', None) or exc}") from None
    addresses: list[_Address] = []
    for info in infos:
        # Drop an IPv6 scope ("fe80::1%eth0"); the address itself is what gets judged.
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise OutboundError(f"cannot resolve {target.host}: no addresses")
    return addresses


def _checked_addresses(rules: list[Rule], target: _Target, deadline: float) -> list[_Address]:
    """The host's addresses, all allowed; BlockedDestinationError when any one is not."""
    addresses = _resolve(target, deadline)
    for ip in addresses:
        reason = _blocked_reason(ip)
        if reason is None or any(rule.matches(target.host, target.port, ip) for rule in rules):
            continue
        subject = str(ip) if str(ip) == target.host else f"{target.host} resolves to {ip}, which"
        raise BlockedDestinationError(f"refused: {subject} is {reason}; add it to the tenant's outbound allow-list to allow it")
    return addresses


def check_url(tenant: Any, url: str, *, timeout: float = 10.0) -> list[_Address]:
    """Raise InvalidURLError/BlockedDestinationError if `url` may not be requested for `tenant`.

    Useful to check a URL early (when saving a credential, say); `guarded_request` checks
    again, on every hop, at the moment it connects. Returns the checked addresses: a caller
    that connects by itself (SMTP) connects to these, never to the name resolved again.
    """
    parsed = _parse_url(url)
    return _checked_addresses(_rules_for(tenant), _target(parsed), time.monotonic() + timeout)


# --------------------------------------------------------------------------- the request


class _DeadlineTimeouts(dict):
    """The per-request timeout mapping httpcore consults (request.extensions["timeout"]).

    httpcore looks a value up when it starts each phase (connect, sending, reading the
    headers, reading the body); answering with the time left until one shared deadline
    keeps every phase within the request's single `timeout`. The body read also has a
    watchdog (see `_read_body`), because its read timeout is fixed when the body starts.
    """

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        left = self._left()
        super().__init__(connect=left, read=left, write=left, pool=left)

    def _left(self) -> float:
        return max(0.001, self._deadline - time.monotonic())

    def get(self, key: str, default: Any = None) -> Any:
        return self._left() if key in ("connect", "read", "write", "pool") else default

    def __getitem__(self, key: str) -> Any:
        return self.get(key)


_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


# Every request this client makes carries this header, set last on each hop so a step's own
# headers cannot drop it. Endpoints that trust the caller's network (the app's /metrics trusts
# loopback) refuse that trust to requests carrying it: an allow-listed address of the app
# itself (the demo's) must not let a tenant's step read what only an operator's scraper may.
# It needs no secret — sending it only ever takes trust away.
OUTBOUND_HEADER = "X-Circuit-OS-Outbound"


def _checked_headers(headers: Mapping[str, str]) -> httpx.Headers:
    """Headers as httpx wants them; errors name the header but never show its value (it may be a secret)."""
    checked = httpx.Headers()
    for name, value in headers.items():
        name, value = str(name), str(value)
        if not _TOKEN.match(name):
            raise OutboundError(f"refused: {name!r} is not a valid header name")
        if any(c in value for c in "\r\n\0") or not value.isascii():
            raise OutboundError(f"refused: the value of header {name!r} must be one line of plain ASCII text")
        checked[name] = value
    return checked


def _pinned_url(url: httpx.URL, ip: _Address) -> httpx.URL:
    # copy_with adds the brackets an IPv6 host needs; user-info stays (httpx sends it as basic auth).
    return url.copy_with(host=str(ip))


def _same_origin(a: _Target, b: _Target) -> bool:
    return a.origin == b.origin


def guarded_request(
    tenant: Any,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    content: bytes | str | None = None,
    timeout: float = 10.0,
    max_bytes: int = 5_000_000,
    follow_redirects: bool = True,
    max_redirects: int = 5,
    secret_headers: Iterable[str] = (),
    verify: ssl.SSLContext | bool = True,
    idempotency_key: str | None = None,
) -> GuardedResponse:
    """Make one HTTP request for `tenant` under the outbound rules (see the module doc).

    `json`, `data` (form fields) and `content` (raw bytes/str) are alternatives for the body.
    `secret_headers` names extra headers (besides Authorization/Cookie) that carry secrets:
    they are dropped when a redirect leaves the origin. `verify` is for tests and private
    CAs. Raises an OutboundError subclass (an ActionError) on any refusal or failure; an
    HTTP error status is NOT an exception — look at `status_code`.
    """
    started = time.monotonic()
    deadline = started + max(0.001, float(timeout))
    method = str(method).upper()
    rules = _rules_for(tenant)
    secrets = _CREDENTIAL_HEADERS | {h.lower() for h in secret_headers}

    current = _parse_url(url)
    if params:
        current = current.copy_merge_params(params)
    request_headers = _checked_headers(headers or {})
    request_headers.pop("host", None)  # the guard sets Host itself, from the URL it checked
    if idempotency_key and "idempotency-key" not in request_headers:
        request_headers["Idempotency-Key"] = idempotency_key
    body: dict[str, Any] = {"json": json, "data": data, "content": content}
    first = _target(current)
    redirects: list[str] = []

    client = httpx.Client(
        transport=httpx.HTTPTransport(verify=verify, retries=0),
        trust_env=False,  # a proxy from the environment would bypass the address pinning
        follow_redirects=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),  # no cookie carry-over between hops
        headers={"User-Agent": USER_AGENT},
    )
    try:
        while True:
            target = _target(current)
            if time.monotonic() >= deadline:
                raise OutboundTimeoutError(f"timed out after {timeout:g}s requesting {display_url(current)}")
            addresses = _checked_addresses(rules, target, deadline)
            hop_headers = request_headers.copy()
            hop_headers["Host"] = target.host_header
            hop_headers[OUTBOUND_HEADER] = "1"
            response = _send_to_first_reachable(client, method, current, target, addresses, hop_headers, body, deadline, timeout)
            try:
                location = response.headers.get("location")
                if follow_redirects and response.status_code in REDIRECT_STATUSES and location:
                    if len(redirects) >= max_redirects:
                        raise TooManyRedirectsError(f"refused: more than {max_redirects} redirects starting at {display_url(url)}")
                    try:
                        next_url = _parse_url(current.join(location.strip()))
                    except InvalidURLError as exc:
                        raise InvalidURLError(f"{exc} (redirected from {display_url(current)})") from None
                    redirects.append(str(current))
                    status = response.status_code
                    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                        # As browsers do: the redirected request is a GET without the body.
                        method = "GET"
                        body = {"json": None, "data": None, "content": None}
                        for name in ("content-type", "content-length", "transfer-encoding"):
                            request_headers.pop(name, None)
                    if not _same_origin(first, _target(next_url)):
                        for name in list(request_headers.keys()):
                            if name.lower() in secrets:
                                request_headers.pop(name, None)
                    current = next_url
                    continue
                payload = _read_body(response, method, current, max_bytes, deadline, timeout)
            finally:
                response.close()
            return GuardedResponse(
                status_code=response.status_code,
                headers=response.headers,
                content=payload,
                url=str(current),
                elapsed_ms=int((time.monotonic() - started) * 1000),
                reason_phrase=response.reason_phrase,
                redirects=redirects,
            )
    finally:
        client.close()


def _send_to_first_reachable(
    client: httpx.Client,
    method: str,
    url: httpx.URL,
    target: _Target,
    addresses: list[_Address],
    headers: httpx.Headers,
    body: dict[str, Any],
    deadline: float,
    timeout: float,
) -> httpx.Response:
    """Send to each checked address in turn until one accepts the connection."""
    last_error: Exception | None = None
    for ip in addresses:
        extensions: dict[str, Any] = {"timeout": _DeadlineTimeouts(deadline)}
        if target.scheme == "https":
            # TLS: SNI and the certificate check use the real host name, not the IP we dial.
            extensions["sni_hostname"] = target.host
        request = client.build_request(method, _pinned_url(url, ip), headers=headers, extensions=extensions, **body)
        try:
            return client.send(request, stream=True)
        except httpx.ConnectError as exc:
            last_error = exc
            continue
        except httpx.TimeoutException:
            raise OutboundTimeoutError(f"timed out after {timeout:g}s requesting {display_url(url)}") from None
        except httpx.HTTPError as exc:
            raise OutboundError(f"request to {display_url(url)} failed: {exc or type(exc).__name__}") from None
    raise OutboundError(f"could not connect to {target.host_header}: {last_error}") from None


def _read_body(response: httpx.Response, method: str, url: httpx.URL, max_bytes: int, deadline: float, timeout: float) -> bytes:
    if method == "HEAD":
        return b""
    too_large = f"refused: the response from {display_url(url)} is larger than the {max_bytes:,}-byte limit"
    timed_out = f"timed out after {timeout:g}s reading the response from {display_url(url)}"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLargeError(too_large)
    # httpcore fixes the read timeout once for the whole body, so a server dripping a byte
    # just before each read timeout could stretch the exchange far past the deadline. A
    # watchdog shuts the socket down at the deadline, which wakes the blocked read at once.
    expired = threading.Event()
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None

    def expire() -> None:
        expired.set()
        if sock is not None:
            with contextlib.suppress(OSError):
                # socket.socket's own shutdown, also for TLS: SSLSocket.shutdown would drop
                # its SSL object under the reading thread's feet.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
    watchdog.daemon = True
    watchdog.start()
    buffer = bytearray()
    try:
        for chunk in response.iter_bytes():  # decoded: a compressed bomb is counted expanded
            buffer += chunk
            if len(buffer) > max_bytes:
                raise ResponseTooLargeError(too_large)
            if expired.is_set() or time.monotonic() > deadline:
                raise OutboundTimeoutError(timed_out)
    except OutboundError:
        raise
    except Exception as exc:
        if expired.is_set() or isinstance(exc, httpx.TimeoutException):
            raise OutboundTimeoutError(timed_out) from None
        if isinstance(exc, httpx.HTTPError):
            raise OutboundError(f"reading the response from {display_url(url)} failed: {exc or type(exc).__name__}") from None
        raise
    finally:
        watchdog.cancel()
    if expired.is_set():  # the shutdown may have looked like a normal end of the body
        raise OutboundTimeoutError(timed_out)
    return bytes(buffer)
