"""Outbound allow-list entries: the one parser, used by the guard (actions/net.py) and by every
form and service that saves `Tenant.outbound_allowlist` (circuits/automation/services/tenant_settings.py).

An entry is a string (case-insensitive, surrounding whitespace ignored):

    "localhost"              a host name, any port
    "*.corp.example"         every subdomain of corp.example (not corp.example itself), any port
    "api.example:8443"       a host name (or wildcard) on one port, 1–65535
    "bücher.example"         an internationalised name, matched as its IDNA form (xn--bcher-kva.example)
    "127.0.0.1", "::1"       an address, any port ("[::1]" too)
    "127.0.0.1:8080"         an IPv4 address on one port
    "[::1]:8080"             an IPv6 address on one port (brackets are required with a port)
    "10.0.0.0/8", "fd00::/8" a network (CIDR), any port
    "https://api.example/x"  a pasted http(s) URL counts as its host (and explicit port)

Anything else is refused with a message naming the entry: an empty or inner-blank entry, a
port outside 1–65535, an empty label ("a..b", "*."), a label over 63 characters or starting
or ending with "-", an "xn--" label that is not IDNA, other characters, URL schemes other
than http(s), a port on a network, a name in brackets. A cloud metadata address is only opened by an entry naming
that single address, or a host name (not a wildcard) resolving to it (see `Rule.matches`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import idna

__all__ = ["METADATA_ADDRESSES", "AllowListError", "Rule", "entry_errors", "normalise_host", "parse_entry", "wrapped_ipv4"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services (cloud credentials): AWS, GCP, Azure, Oracle, DigitalOcean (169.254.169.254), AWS over IPv6, Alibaba Cloud.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")})

# After IDNA encoding: letters, digits, "-" and "_" (internal names use it), not "-" at an end.
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_MAX_HOST = 253


class AllowListError(ValueError):
    """An allow-list entry that is not valid; the message names it and says why."""


@dataclass(frozen=True)
class Rule:
    """One parsed entry: a host name (maybe a wildcard) or a network, and maybe one port."""

    network: Network | None = None
    host: str | None = None  # ASCII (IDNA) lower-case, no trailing dot
    wildcard: bool = False  # "*.example.com": the host's subdomains
    port: int | None = None

    def matches(self, host: str, port: int, ip: Address) -> bool:
        """Whether a request to `host` (ASCII, lower-case) on `port`, resolved to `ip`, is named by this entry."""
        if self.port is not None and self.port != port:
            return False
        metadata = ip in METADATA_ADDRESSES or any(inner in METADATA_ADDRESSES for inner in wrapped_ipv4(ip))
        if self.host is not None:
            if self.wildcard:
                # Anyone may own a subdomain (nip.io answers 169.254.169.254.nip.io with that address): only a
                # name entry, never a wildcard, opens the metadata address it resolves to.
                return host.endswith("." + self.host) and not metadata
            return host == self.host
        assert self.network is not None
        if self.network.num_addresses != 1 and metadata:
            return False  # only an entry naming the metadata address itself opens it, in any IPv6 wrapping too
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c.version == self.network.version and c in self.network for c in candidates)


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def wrapped_ipv4(ip: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (IPv4-mapped, 6to4, Teredo, NAT64): reaching it may reach them."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    inner = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
    if ip in _NAT64:
        inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [address for address in inner if address is not None]


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, and an internationalised name in its IDNA form — the form
    entries are stored in (httpx gives a URL's host decoded: "bücher.example")."""
    host = host.strip().lower().rstrip(".")
    if not host.isascii():
        with contextlib.suppress(idna.IDNAError):  # not a valid name: it stays as it is and matches no entry
            host = idna.encode(host, uts46=True).decode("ascii")
    return host


def _port(text: str, entry: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise AllowListError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


def _address(text: str) -> Address | None:
    if "%" in text:  # an IPv6 zone ("fe80::1%eth0") names an interface of this machine, not a destination
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _host(text: str, entry: str) -> str:
    try:
        ascii_host = idna.encode(text, uts46=True).decode("ascii") if not text.isascii() else text
    except idna.IDNAError as exc:
        raise AllowListError(f"{entry!r}: not a valid international host name ({exc})") from None
    ascii_host = normalise_host(ascii_host)
    labels = ascii_host.split(".")
    if not ascii_host or len(ascii_host) > _MAX_HOST or not all(_LABEL.match(label) and _punycode_ok(label) for label in labels):
        raise AllowListError(
            f"{entry!r}: not a valid host name, address or network (a name is dot-separated labels of letters, digits, '-' and '_', "
            "each 1–63 characters, not starting or ending with '-')"
        )
    return ascii_host


def _punycode_ok(label: str) -> bool:
    """An "xn--" label must be the IDNA form of some name (the guard compares these forms)."""
    if not label.startswith("xn--"):
        return True
    try:
        idna.decode(label)
    except (idna.IDNAError, UnicodeError):
        return False
    return True


def _strip_url(text: str, entry: str) -> str:
    # A pasted URL counts as its host and explicit port; its path is ignored (an entry opens a whole host).
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise AllowListError(f"{entry!r}: only http and https URLs can be pasted; better, give just the host (and port)")
    return parts.netloc.rpartition("@")[2]


def parse_entry(entry: Any) -> Rule:
    """The rule an entry stands for, or AllowListError saying what is wrong with it."""
    if not isinstance(entry, str) or not entry.strip():
        raise AllowListError(f"{entry!r}: an entry must be a host name, an address or a network")
    text = entry.strip().lower()
    if any(c.isspace() for c in text):
        raise AllowListError(f"{entry!r}: an entry cannot contain spaces; put one entry per line")
    if "://" in text:
        text = _strip_url(text, entry)
    if "/" in text:
        if "%" in text:
            raise AllowListError(f"{entry!r}: not a valid network (use CIDR, like 10.0.0.0/8)")
        try:
            return Rule(network=ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise AllowListError(f"{entry!r}: not a valid network (use CIDR, like 10.0.0.0/8; a network has no port)") from None
    if text.startswith("["):  # [v6] or [v6]:port
        inside, closed, rest = text[1:].partition("]")
        ip = _address(inside)
        if not closed or not isinstance(ip, ipaddress.IPv6Address):
            raise AllowListError(f"{entry!r}: brackets hold an IPv6 address, like [::1] or [::1]:8080")
        if rest and not rest.startswith(":"):
            raise AllowListError(f"{entry!r}: expected [address]:port")
        return Rule(network=ipaddress.ip_network(ip), port=_port(rest[1:], entry) if rest else None)
    if (ip := _address(text)) is not None:  # a bare v4 or v6 address, any port
        return Rule(network=ipaddress.ip_network(ip))
    port = None
    if ":" in text:
        if text.count(":") > 1:
            raise AllowListError(f"{entry!r}: not a valid address; write an IPv6 address with a port as [address]:port")
        text, _, port_text = text.partition(":")
        port = _port(port_text, entry)
        if (ip := _address(text)) is not None:
            return Rule(network=ipaddress.ip_network(ip), port=port)
    wildcard = text.startswith("*.")
    return Rule(host=_host(text[2:] if wildcard else text, entry), wildcard=wildcard, port=port)


def entry_errors(entries: Any) -> list[str]:
    """Every problem of an allow-list (for the forms and services that save it), one per bad entry."""
    if not isinstance(entries, list):
        return ["the outbound allow-list must be a list of strings"]
    errors = []
    for entry in entries:
        try:
            parse_entry(entry)
        except AllowListError as exc:
            errors.append(str(exc))
    return errors
