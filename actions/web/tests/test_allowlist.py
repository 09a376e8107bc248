"""Allow-list entries: one parser (actions/allowlist.py) for the outbound guard and the settings that save them."""

from __future__ import annotations

import ipaddress
import re

import pytest
from django.core.exceptions import ValidationError

from actions.allowlist import AllowListError, Rule, entry_errors, parse_entry
from actions.net import BlockedDestinationError, allowlisted, guarded_request
from circuits.automation.services.tenant_settings import UpdateTenantSettings

from .server import reply, serve

V6_LOOPBACK = ipaddress.ip_network("::1/128")

ACCEPTED = {
    "localhost": Rule(host="localhost"),
    "  Api.Example.COM.  ": Rule(host="api.example.com"),
    "\tcrm.internal\n": Rule(host="crm.internal"),
    "*.corp.example": Rule(host="corp.example", wildcard=True),
    "*.corp.example:8443": Rule(host="corp.example", wildcard=True, port=8443),
    "host.internal:1": Rule(host="host.internal", port=1),
    "host.internal:65535": Rule(host="host.internal", port=65535),
    "under_score.internal": Rule(host="under_score.internal"),
    "bücher.example": Rule(host="xn--bcher-kva.example"),
    "xn--bcher-kva.example": Rule(host="xn--bcher-kva.example"),
    "127.0.0.1": Rule(network=ipaddress.ip_network("127.0.0.1/32")),
    "127.0.0.1:8080": Rule(network=ipaddress.ip_network("127.0.0.1/32"), port=8080),
    "::1": Rule(network=V6_LOOPBACK),
    "[::1]": Rule(network=V6_LOOPBACK),
    "[::1]:8080": Rule(network=V6_LOOPBACK, port=8080),
    "10.0.0.0/8": Rule(network=ipaddress.ip_network("10.0.0.0/8")),
    "10.1.2.3/8": Rule(network=ipaddress.ip_network("10.0.0.0/8")),
    "fd00::/8": Rule(network=ipaddress.ip_network("fd00::/8")),
    "http://host.internal": Rule(host="host.internal"),
    "https://user@api.example:8443/": Rule(host="api.example", port=8443),
    "http://host.internal/path?q=1": Rule(host="host.internal"),
}

REFUSED = {
    "": "must be a host name",
    "   ": "must be a host name",
    "host:0": "port must be a number from 1 to 65535",
    "host:65536": "port must be a number from 1 to 65535",
    "host:99999": "port must be a number from 1 to 65535",
    "host:": "port must be a number",
    "host:８０": "port must be a number",  # full-width digits are digits to str.isdigit
    "host:http": "port must be a number",
    "*.": "not a valid host name",
    "*": "not a valid host name",
    "*.*.example": "not a valid host name",
    "a..b": "not a valid host name",
    ".example": "not a valid host name",
    "-bad.example": "not a valid host name",
    "x" * 64 + ".example": "not a valid host name",
    "bad host": "cannot contain spaces",
    "bad\u00a0host": "cannot contain spaces",
    "bad!host": "not a valid host name",
    "xn--zz.example": "not a valid host name",
    "ex\u200dample.com": "not a valid international host name",
    "ftp://host.internal": "only http and https",
    "10.0.0.0/99": "not a valid network",
    "10.0.0.0/8:443": "not a valid network",
    "[::1]x": "expected [address]:port",
    "[::1": "brackets hold an IPv6 address",
    "[127.0.0.1]:80": "brackets hold an IPv6 address",
    "[host.internal]": "brackets hold an IPv6 address",
    "fe80::1%eth0": "IPv6 address with a port",
    "::1:8080:x": "IPv6 address with a port",
}


@pytest.mark.parametrize(("entry", "rule"), ACCEPTED.items())
def test_an_accepted_entry_parses_to_its_rule(entry, rule):
    assert parse_entry(entry) == rule


@pytest.mark.parametrize(("entry", "problem"), REFUSED.items())
def test_a_refused_entry_names_itself_and_the_problem(entry, problem):
    with pytest.raises(AllowListError, match=re.escape(problem)) as refused:
        parse_entry(entry)
    assert repr(entry) in str(refused.value)


def test_an_entry_that_is_not_a_string_and_a_list_that_is_not_a_list_are_refused():
    problem = "an entry must be a host name, an address or a network"
    assert entry_errors(["ok.example", 5, None]) == [f"5: {problem}", f"None: {problem}"]
    assert entry_errors("ok.example") == ["the outbound allow-list must be a list of strings"]


@pytest.mark.django_db
@pytest.mark.parametrize("entry", ACCEPTED)
def test_the_settings_service_accepts_exactly_what_the_guard_accepts(world, entry):
    UpdateTenantSettings(world.tenant, world.owner, outbound_allowlist=[entry]).execute()
    world.tenant.refresh_from_db()
    assert world.tenant.outbound_allowlist == [entry.strip()]


@pytest.mark.django_db
@pytest.mark.parametrize(("entry", "problem"), [(e, p) for e, p in REFUSED.items() if e.strip()])
def test_the_settings_service_refuses_exactly_what_the_guard_refuses(world, entry, problem):
    with pytest.raises(ValidationError, match=re.escape(problem)):
        UpdateTenantSettings(world.tenant, world.owner, outbound_allowlist=["ok.example", entry]).execute()
    world.tenant.refresh_from_db()
    assert world.tenant.outbound_allowlist == []


@pytest.mark.django_db
def test_entries_saved_by_the_settings_service_are_the_ones_the_guard_enforces(world):
    UpdateTenantSettings(world.tenant, world.owner, outbound_allowlist=["*.corp.example", "[::1]:8080", "bücher.example", "http://crm.internal"]).execute()
    world.tenant.refresh_from_db()
    assert allowlisted(world.tenant, "api.corp.example", 443) and not allowlisted(world.tenant, "corp.example", 443)
    assert allowlisted(world.tenant, "::1", 8080) and allowlisted(world.tenant, "[::1]", 8080) and not allowlisted(world.tenant, "::1", 8081)
    assert allowlisted(world.tenant, "xn--bcher-kva.example", 443)  # the guard sees the IDNA form of the URL's host
    assert allowlisted(world.tenant, "crm.internal", 80)


@pytest.mark.django_db
def test_a_port_entry_saved_through_settings_opens_only_that_port_of_a_real_server(world):
    with serve({"/": reply(200, "open")}) as server, serve({"/": reply(200, "closed")}) as other:
        UpdateTenantSettings(world.tenant, world.owner, outbound_allowlist=[server.allow]).execute()
        world.tenant.refresh_from_db()
        assert guarded_request(world.tenant, "GET", server.url("/")).text == "open"
        with pytest.raises(BlockedDestinationError):
            guarded_request(world.tenant, "GET", other.url("/"))
    assert other.requests == []


def test_a_wildcard_entry_does_not_open_the_metadata_address_a_subdomain_resolves_to():
    # Services like nip.io answer 169.254.169.254.nip.io with 169.254.169.254: "*.nip.io" must not open the metadata service.
    metadata, wrapped, public = ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("::ffff:169.254.169.254"), ipaddress.ip_address("93.184.216.34")
    wildcard = parse_entry("*.nip.io")
    assert not wildcard.matches("169.254.169.254.nip.io", 80, metadata)
    assert not wildcard.matches("169.254.169.254.nip.io", 80, wrapped)
    assert wildcard.matches("10.0.0.1.nip.io", 80, public)  # other subdomains stay open
    assert parse_entry("metadata.internal").matches("metadata.internal", 80, metadata)  # a name entry still opens what it resolves to
