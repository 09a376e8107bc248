"""The outbound HTTP guard, against real local servers."""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import ssl
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from actions.allowlist import parse_entry
from actions.net import (
    BlockedDestinationError,
    InvalidURLError,
    OutboundError,
    OutboundTimeoutError,
    ResponseTooLargeError,
    TooManyRedirectsError,
    allowlist_errors,
    check_url,
    display_url,
    guarded_request,
)
from actions.sdk import ActionError

from .server import Reply, echo, redirect, reply, serve


def allow(tenant, *entries: str) -> None:
    tenant.outbound_allowlist = list(entries)
    tenant.save(update_fields=["outbound_allowlist"])


# --------------------------------------------------------------------------- refusals


def test_loopback_is_refused_when_the_allowlist_is_empty(world):
    with serve({"/": reply(200, "secret")}) as server, pytest.raises(BlockedDestinationError) as caught:
        guarded_request(world.tenant, "GET", server.url("/"))
    assert str(caught.value) == "refused: 127.0.0.1 is a loopback address; add it to the tenant's outbound allow-list to allow it"
    assert isinstance(caught.value, ActionError)
    assert server.requests == []


def test_localhost_is_refused_by_name_when_the_allowlist_is_empty(world):
    with serve({"/": reply(200, "secret")}) as server, pytest.raises(BlockedDestinationError, match=r"localhost resolves to 127\.0\.0\.1, which is a loopback"):
        guarded_request(world.tenant, "GET", server.url("/", host="localhost"))
    assert server.requests == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "the cloud metadata address"),
        ("http://[fd00:ec2::254]/", "the cloud metadata address"),
        ("http://[::1]/", "loopback"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number
        ("http://0x7f000001/", "loopback"),  # … as hex
        ("http://127.1/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "an IPv4-mapped form of 127.0.0.1, a loopback address"),
        ("http://[2002:7f00:1::]/", "a 6to4 form of 127.0.0.1, a loopback address"),
        ("http://[64:ff9b::a00:1]/", "a NAT64 form of 10.0.0.1, a private address"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://10.1.2.3/", "a private address"),
        ("http://172.16.0.1/", "a private address"),
        ("http://192.168.1.1/", "a private address"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://169.254.1.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
    ],
)
def test_non_public_addresses_are_refused_in_every_spelling(world, url, reason):
    with pytest.raises(BlockedDestinationError, match="refused: ") as caught:
        guarded_request(world.tenant, "GET", url, timeout=2)
    assert reason in str(caught.value)
    assert "outbound allow-list" in str(caught.value)


def test_the_metadata_address_needs_an_entry_naming_it_not_a_wider_network(world):
    allow(world.tenant, "169.254.0.0/16", "0.0.0.0/0")
    with pytest.raises(BlockedDestinationError, match="cloud metadata"):
        check_url(world.tenant, "http://169.254.169.254/")
    check_url(world.tenant, "http://169.254.1.1/")  # the rest of the network is open
    allow(world.tenant, "169.254.169.254")
    check_url(world.tenant, "http://169.254.169.254/")


@pytest.mark.parametrize("entries", [("169.254.0.0/16",), ("0.0.0.0/0",), ("::/0",), ("::ffff:0:0/96",), ("64:ff9b::/96",), ("2002::/16",)])
@pytest.mark.parametrize("url", ["http://[::ffff:169.254.169.254]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/"])
def test_a_wider_network_does_not_open_the_metadata_address_through_an_ipv6_wrapper(world, entries, url):
    # ::ffff:169.254.169.254 on a dual-stack socket IS 169.254.169.254; the wrapped forms must be judged like it.
    allow(world.tenant, *entries)
    with pytest.raises(BlockedDestinationError, match="cloud metadata"):
        check_url(world.tenant, url)


def test_the_alibaba_cloud_metadata_address_is_not_opened_by_the_carrier_grade_nat_network_around_it(world):
    # 100.100.100.200 is Alibaba Cloud's instance metadata service, inside 100.64.0.0/10.
    allow(world.tenant, "100.64.0.0/10")
    with pytest.raises(BlockedDestinationError, match="cloud metadata"):
        check_url(world.tenant, "http://100.100.100.200/latest/meta-data/")
    check_url(world.tenant, "http://100.64.0.1/")  # the rest of the network is open
    allow(world.tenant, "100.100.100.200")
    check_url(world.tenant, "http://100.100.100.200/")


def test_an_entry_naming_the_metadata_address_opens_its_wrapped_forms_too(world):
    allow(world.tenant, "169.254.169.254")
    check_url(world.tenant, "http://[::ffff:169.254.169.254]/")


@pytest.mark.parametrize(
    "url", ["http://0177.0.0.1/", "file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1:70/", "javascript:alert(1)", "", "http://"]
)
def test_only_http_and_https_urls_are_accepted(world, url):
    with pytest.raises(InvalidURLError, match="refused"):
        guarded_request(world.tenant, "GET", url)


def test_an_unresolvable_host_is_a_clear_error(world):
    with pytest.raises(OutboundError, match=r"cannot resolve no-such-host\.invalid"):
        guarded_request(world.tenant, "GET", "http://no-such-host.invalid/", timeout=5)


# --------------------------------------------------------------------------- the allow-list


@pytest.mark.parametrize("entry", ["127.0.0.1:{port}", "127.0.0.0/8", "127.0.0.1", "http://127.0.0.1:{port}/anything"])
def test_loopback_is_reached_when_the_allowlist_names_it(world, entry):
    with serve({"/hello": reply(200, "hi there")}) as server:
        allow(world.tenant, entry.format(port=server.port))
        response = guarded_request(world.tenant, "GET", server.url("/hello"))
    assert response.status_code == 200
    assert response.text == "hi there"
    assert response.url == server.url("/hello")
    assert response.elapsed_ms >= 0


def test_localhost_is_reached_when_the_allowlist_names_it_and_keeps_its_host_header(world):
    with serve({"/echo": echo}) as server:
        allow(world.tenant, "localhost")
        response = guarded_request(world.tenant, "GET", server.url("/echo", host="localhost"), headers={"Host": "evil.example"})
    # The guard dialled the checked IP but the server still sees the name it was asked for.
    assert response.json()["headers"]["host"] == f"localhost:{server.port}"


def test_a_host_and_port_entry_does_not_open_other_ports(world):
    with serve({"/": reply(200, "a")}) as one, serve({"/": reply(200, "b")}) as other:
        allow(world.tenant, one.allow)
        assert guarded_request(world.tenant, "GET", one.url("/")).text == "a"
        with pytest.raises(BlockedDestinationError, match="loopback"):
            guarded_request(world.tenant, "GET", other.url("/"))
    assert other.requests == []


def test_allowlist_errors_name_the_bad_entries():
    assert allowlist_errors(["localhost", "127.0.0.1:8080", "[::1]:80", "10.0.0.0/8", "*.corp.example", "::1", "host.internal:443"]) == []
    errors = allowlist_errors(["10.0.0.0/99", "localhost:0", "bad host!", "[::1]x"])
    assert len(errors) == 4
    assert "10.0.0.0/99" in errors[0] and "localhost:0" in errors[1]
    assert allowlist_errors("localhost") == ["the outbound allow-list must be a list of strings"]


def test_a_wildcard_entry_opens_subdomains_but_not_the_domain_itself(world):
    rule = parse_entry("*.corp.example:8443")
    loopback = ipaddress.ip_address("127.0.0.1")
    assert rule.matches("api.corp.example", 8443, loopback)
    assert not rule.matches("corp.example", 8443, loopback)
    assert not rule.matches("api.corp.example", 443, loopback)
    assert not rule.matches("evilcorp.example", 8443, loopback)
    allow(world.tenant, "*.localhost")
    with pytest.raises(BlockedDestinationError):
        check_url(world.tenant, "http://localhost/")


# --------------------------------------------------------------------------- redirects


def test_a_redirect_to_a_port_the_allowlist_does_not_name_is_refused(world):
    with serve({"/": reply(200, "internal admin")}) as target, serve({"/go": redirect(target.url("/"))}) as start:
        allow(world.tenant, start.allow)
        with pytest.raises(BlockedDestinationError, match=r"127\.0\.0\.1 is a loopback address"):
            guarded_request(world.tenant, "GET", start.url("/go"))
    assert [r.path for r in start.requests] == ["/go"]
    assert target.requests == []


def test_redirects_within_the_allowlist_are_followed(world):
    with serve({"/a": redirect("/b", 301), "/b": redirect("/c?x=1", 307), "/c": reply(200, "done")}) as server:
        allow(world.tenant, server.allow)
        response = guarded_request(world.tenant, "GET", server.url("/a"))
        assert response.text == "done"
        assert response.url == server.url("/c?x=1")
        assert response.redirects == [server.url("/a"), server.url("/b")]
        not_followed = guarded_request(world.tenant, "GET", server.url("/a"), follow_redirects=False)
        assert not_followed.status_code == 301
        assert not_followed.headers["location"] == "/b"


def test_a_post_becomes_a_get_after_303_but_keeps_its_body_after_307(world):
    with serve({"/see-other": redirect("/echo", 303), "/temporary": redirect("/echo", 307), "/echo": echo}) as server:
        allow(world.tenant, server.allow)
        after_303 = guarded_request(world.tenant, "POST", server.url("/see-other"), json={"a": 1}).json()
        after_307 = guarded_request(world.tenant, "POST", server.url("/temporary"), json={"a": 1}).json()
    assert (after_303["method"], after_303["body"]) == ("GET", "")
    assert (after_307["method"], json.loads(after_307["body"])) == ("POST", {"a": 1})


def test_credentials_are_dropped_when_a_redirect_leaves_the_origin(world):
    routes = {"/same": redirect("/echo"), "/elsewhere": None, "/echo": echo}
    with serve(routes) as server:
        routes["/elsewhere"] = redirect(server.url("/echo", host="127.0.0.1"))
        allow(world.tenant, "localhost", "127.0.0.0/8")
        headers = {"Authorization": "Bearer s3cret", "X-Api-Key": "k3y", "X-Trace": "keep-me"}
        same = guarded_request(world.tenant, "GET", server.url("/same", host="localhost"), headers=headers, secret_headers=["X-Api-Key"])
        moved = guarded_request(world.tenant, "GET", server.url("/elsewhere", host="localhost"), headers=headers, secret_headers=["X-Api-Key"])
    assert same.json()["headers"]["authorization"] == "Bearer s3cret"
    assert same.json()["headers"]["x-api-key"] == "k3y"
    seen = moved.json()["headers"]
    assert "authorization" not in seen and "x-api-key" not in seen
    assert seen["x-trace"] == "keep-me"


def test_too_many_redirects_are_refused(world):
    with serve({"/loop": redirect("/loop")}) as server:
        allow(world.tenant, server.allow)
        with pytest.raises(TooManyRedirectsError, match="more than 3 redirects"):
            guarded_request(world.tenant, "GET", server.url("/loop"), max_redirects=3)
    assert len(server.requests) == 4


# --------------------------------------------------------------------------- size and time


def _stream_without_length(total: int, chunk: int = 64 * 1024):
    def handler(seen, raw):
        raw.send_response(200)
        raw.send_header("Content-Type", "application/octet-stream")
        raw.send_header("Connection", "close")
        raw.end_headers()
        sent = 0
        try:
            while sent < total:
                raw.wfile.write(b"x" * chunk)
                sent += chunk
        except OSError:
            pass  # the client hung up, as it should

    return handler


def test_an_oversized_body_is_refused(world):
    routes = {
        "/declared": reply(200, b"x" * 2_000),
        "/streamed": _stream_without_length(50_000_000),
        "/bomb": reply(200, gzip.compress(b"\0" * 3_000_000), "application/octet-stream", Content_Encoding="gzip"),
        "/fits": reply(200, b"y" * 1_000),
    }
    with serve(routes) as server:
        allow(world.tenant, server.allow)
        with pytest.raises(ResponseTooLargeError, match="larger than the 1,000-byte limit"):
            guarded_request(world.tenant, "GET", server.url("/declared"), max_bytes=1_000)
        started = time.monotonic()
        with pytest.raises(ResponseTooLargeError):
            guarded_request(world.tenant, "GET", server.url("/streamed"), max_bytes=1_000_000)
        assert time.monotonic() - started < 5
        with pytest.raises(ResponseTooLargeError):  # small on the wire, huge once decompressed
            guarded_request(world.tenant, "GET", server.url("/bomb"), max_bytes=1_000_000)
        assert guarded_request(world.tenant, "GET", server.url("/fits"), max_bytes=1_000).content == b"y" * 1_000


def test_the_timeout_is_enforced_against_a_server_that_sleeps(world):
    def sleepy(seen, raw):
        server.stopping.wait(10)
        return Reply(200, "too late")

    with serve({"/slow": sleepy}) as server:
        allow(world.tenant, server.allow)
        started = time.monotonic()
        with pytest.raises(OutboundTimeoutError, match=r"timed out after 0\.5s"):
            guarded_request(world.tenant, "GET", server.url("/slow"), timeout=0.5)
        assert time.monotonic() - started < 2


def test_the_timeout_covers_the_whole_body_not_each_read(world):
    def drip(seen, raw):
        raw.send_response(200)
        raw.send_header("Content-Type", "text/plain")
        raw.send_header("Connection", "close")
        raw.end_headers()
        try:
            while not server.stopping.wait(0.1):
                raw.wfile.write(b".")
                raw.wfile.flush()
        except OSError:
            pass

    with serve({"/drip": drip}) as server:
        allow(world.tenant, server.allow)
        started = time.monotonic()
        with pytest.raises(OutboundTimeoutError):
            guarded_request(world.tenant, "GET", server.url("/drip"), timeout=0.8)
        assert time.monotonic() - started < 2


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_body_that_stalls_is_cut_off_at_the_deadline(world, tmp_path, tls):
    def stall(seen, raw):
        raw.send_response(200)
        raw.send_header("Content-Type", "text/plain")
        raw.send_header("Connection", "close")
        raw.end_headers()
        time.sleep(0.4)  # one byte late in the exchange, then nothing
        raw.wfile.write(b"x")
        raw.wfile.flush()
        server.stopping.wait(10)

    server_ctx, client_ctx = _self_signed(tmp_path, "localhost") if tls else (None, True)
    with serve({"/stall": stall}, tls=server_ctx) as server:
        allow(world.tenant, "localhost")
        started = time.monotonic()
        with pytest.raises(OutboundTimeoutError, match="reading the response"):
            guarded_request(world.tenant, "GET", server.url("/stall", host="localhost"), timeout=1.0, verify=client_ctx)
        assert time.monotonic() - started < 1.3


# --------------------------------------------------------------------------- https


def _self_signed(tmp_path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_ctx = ssl.create_default_context(cadata=cert_pem.decode())
    return server_ctx, client_ctx


def test_https_is_pinned_to_the_checked_ip_with_sni_and_certificate_checks_on_the_name(world, tmp_path):
    server_ctx, client_ctx = _self_signed(tmp_path, "localhost")
    with serve({"/echo": echo}, tls=server_ctx) as server:
        allow(world.tenant, "localhost", "127.0.0.1")
        response = guarded_request(world.tenant, "GET", server.url("/echo", host="localhost"), verify=client_ctx)
        assert response.status_code == 200
        assert response.json()["headers"]["host"] == f"localhost:{server.port}"
        assert server.sni_names == ["localhost"]
        # The certificate names "localhost", not the IP: asking for the IP must fail verification.
        with pytest.raises(OutboundError, match="could not connect"):
            guarded_request(world.tenant, "GET", server.url("/echo"), verify=client_ctx)


# --------------------------------------------------------------------------- the response


def test_the_response_decodes_text_and_json_and_sends_params(world):
    with serve({"/echo": echo, "/latin": reply(200, "café".encode("latin-1"), "text/plain; charset=ISO-8859-1")}) as server:
        allow(world.tenant, server.allow)
        response = guarded_request(world.tenant, "PUT", server.url("/echo?a=1"), params={"b": ["2", "3"]}, data={"f": "v"}, headers={"X-One": "1"})
        seen = response.json()
        assert response.is_json and response.content_type == "application/json"
        assert seen["method"] == "PUT"
        assert seen["query"] == {"a": ["1"], "b": ["2", "3"]}
        assert seen["body"] == "f=v"
        assert seen["headers"]["x-one"] == "1"
        assert seen["headers"]["user-agent"].startswith("CircuitOS/")
        assert guarded_request(world.tenant, "GET", server.url("/latin")).text == "café"
        with pytest.raises(OutboundError, match="not valid JSON"):
            guarded_request(world.tenant, "GET", server.url("/latin")).json()


def test_bad_headers_are_refused_without_showing_their_values(world):
    with serve({"/echo": echo}) as server:
        allow(world.tenant, server.allow)
        with pytest.raises(OutboundError, match="value of header 'Authorization' must be one line") as caught:
            guarded_request(world.tenant, "GET", server.url("/echo"), headers={"Authorization": "Bearer s3cret\r\nX-Evil: 1"})
        assert "s3cret" not in str(caught.value)
        with pytest.raises(OutboundError, match="'Bad Name' is not a valid header name"):
            guarded_request(world.tenant, "GET", server.url("/echo"), headers={"Bad Name": "v"})
    assert server.requests == []


def test_display_url_hides_user_info_and_query():
    assert display_url("https://user:pw@example.com:8443/p?api_key=123") == "https://example.com:8443/p?…"
    assert str(ipaddress.ip_address("::1")) in display_url("http://[::1]/")
