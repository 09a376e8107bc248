"""notify.email connects to the address the outbound guard checked, and redacts the password as a token.

SMTP used to resolve the host name twice: once to check it, once more (inside smtplib) to
connect — a DNS answer that changes in between (rebinding) reached an address the check
never saw. The resolver here is the one thing faked: DNS is outside this machine, so
`socket.getaddrinfo` answers for made-up names and asks the real resolver for the rest.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from actions.notify.email import PinnedSMTP
from actions.notify.tests.conftest import SMTP_USER, SmtpServer, _Controller, _Handler, allow, make_ctx
from actions.sdk import ActionError, registry
from circuits.tenancy.credentials import save_credential

Email = registry.get("notify.email")
MESSAGE = {"credential": "mail", "to": "ann@example.com", "subject": "Hi", "text": "x"}


class FakeDNS:
    """Answers for names under .rebind.test from a script (one answer per lookup); real DNS otherwise."""

    def __init__(self, real) -> None:
        self.real = real
        self.answers: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not name.endswith(".rebind.test"):
            return self.real(host, port, family, type, proto, flags)
        self.lookups.append(name)
        script = self.answers[name]
        ip = script.pop(0) if len(script) > 1 else script[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port)))]


@pytest.fixture
def dns(monkeypatch) -> FakeDNS:
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def _smtp(hostname: str, port: int = 0, **kwargs) -> tuple[_Controller, SmtpServer]:
    handler = _Handler()
    controller = _Controller(handler, hostname=hostname, port=port, auth_require_tls=False, **kwargs)
    controller.start()
    return controller, SmtpServer(port=controller.port, handler=handler)


@pytest.fixture
def checked_and_rebound() -> Iterator[tuple[SmtpServer, SmtpServer]]:
    """The server the check approves (127.0.0.1) and one inside the network (127.0.0.2), on the same port."""
    good_controller, good = _smtp("127.0.0.1")
    inside_controller, inside = _smtp("127.0.0.2", good.port)
    try:
        yield good, inside
    finally:
        good_controller.stop()
        inside_controller.stop()


def test_smtp_connects_to_the_checked_address_even_when_dns_changes_its_answer(world, dns, checked_and_rebound):
    good, inside = checked_and_rebound
    allow(world.tenant, good.port)  # 127.0.0.1:<port> only; 127.0.0.2 stays blocked
    dns.answers["mail.rebind.test"] = ["127.0.0.1", "127.0.0.2"]  # checked first, then rebound
    save_credential(world.tenant, "mail", "smtp", {"host": "mail.rebind.test", "port": good.port, "from_email": "ops@acme.test"})

    output = Email().run(make_ctx(world.tenant), MESSAGE)

    assert output["sent"] == 1
    assert len(good.messages) == 1 and inside.messages == []
    assert dns.lookups == ["mail.rebind.test"]  # resolved once, by the guard


def test_a_host_that_resolves_to_a_blocked_address_is_refused_before_connecting(world, dns, checked_and_rebound):
    good, inside = checked_and_rebound
    allow(world.tenant, good.port)
    dns.answers["mail.rebind.test"] = ["127.0.0.2"]
    save_credential(world.tenant, "mail", "smtp", {"host": "mail.rebind.test", "port": good.port})

    with pytest.raises(ActionError, match=r"mail\.rebind\.test resolves to 127\.0\.0\.2, which is a loopback address"):
        Email().run(make_ctx(world.tenant), MESSAGE)
    assert good.messages == [] and inside.messages == []


def _certificate(tmp_path, name: str) -> tuple[ssl.SSLContext, str, list[str]]:
    """A server TLS context with a self-signed certificate for `name`, its PEM path, and the SNI names it saw."""
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
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    sni: list[str] = []
    server_ctx.sni_callback = lambda _sock, server_name, _ctx: sni.append(server_name)
    return server_ctx, str(tmp_path / "cert.pem"), sni


def test_starttls_on_the_pinned_address_sends_the_host_name_and_checks_the_certificate_against_it(world, dns, tmp_path, monkeypatch):
    server_ctx, cert_path, sni = _certificate(tmp_path, "mail.rebind.test")
    controller, server = _smtp("127.0.0.1", tls_context=server_ctx)
    try:
        monkeypatch.setenv("SSL_CERT_FILE", cert_path)  # the platform's trust store, for this test: our own CA
        allow(world.tenant, server.port)
        dns.answers["mail.rebind.test"] = ["127.0.0.1", "127.0.0.2"]
        save_credential(world.tenant, "mail", "smtp", {"host": "mail.rebind.test", "port": server.port, "use_tls": True})
        assert Email().run(make_ctx(world.tenant), MESSAGE)["sent"] == 1
        assert len(server.messages) == 1 and sni == ["mail.rebind.test"]
        # The certificate is checked against the name, not the IP connected to: another name fails.
        client_ctx = ssl.create_default_context(cafile=cert_path)
        other = PinnedSMTP("other.rebind.test", server.port, addresses=[ipaddress.ip_address("127.0.0.1")], timeout=5)
        try:
            with pytest.raises(ssl.SSLCertVerificationError, match=r"other\.rebind\.test"):
                other.starttls(context=client_ctx)
        finally:
            other.close()
    finally:
        controller.stop()


# --------------------------------------------------------------------------- redaction


def test_a_one_letter_password_does_not_garble_the_error(world):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def hang_up() -> None:  # accepts, then closes without a greeting
        conn, _ = listener.accept()
        conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        allow(world.tenant, port)
        save_credential(world.tenant, "mail", "smtp", {"host": "127.0.0.1", "port": port, "username": SMTP_USER, "password": "p"})
        with pytest.raises(ActionError) as caught:
            Email().run(make_ctx(world.tenant), MESSAGE)
    finally:
        thread.join(5)
        listener.close()
    assert str(caught.value) == f"SMTP server 127.0.0.1:{port} closed the connection unexpectedly"


PASSWORD = "Tr0ub4dor-and-3"  # noqa: S105 - a test server's password


def _echoing_authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    """A careless server: its refusal repeats the password, plain and as AUTH LOGIN sends it (base64)."""
    password = auth_data.password.decode() if isinstance(auth_data, LoginPassword) else "?"
    encoded = base64.b64encode(password.encode()).decode()
    return AuthResult(success=False, handled=False, message=f"535 5.7.8 login {SMTP_USER}:{password} ({encoded}) not accepted")


def test_a_server_that_echoes_the_password_or_its_base64_never_shows_either(world):
    controller, server = _smtp("127.0.0.1", authenticator=_echoing_authenticator, auth_required=False)
    try:
        allow(world.tenant, server.port)
        save_credential(world.tenant, "mail", "smtp", {"host": "127.0.0.1", "port": server.port, "username": SMTP_USER, "password": PASSWORD})
        ctx = make_ctx(world.tenant)
        with pytest.raises(ActionError) as caught:
            Email().run(ctx, MESSAGE)
    finally:
        controller.stop()
    message = str(caught.value)
    assert message.startswith(f"SMTP server 127.0.0.1:{server.port} refused the login for 'mailer': 535 5.7.8 login mailer:******** (********) not accepted")
    assert PASSWORD not in message and base64.b64encode(PASSWORD.encode()).decode() not in message
