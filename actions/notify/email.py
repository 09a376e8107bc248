"""Send Email: through the tenant's own SMTP server (an `smtp` credential) or the platform's mail service."""

from __future__ import annotations

import contextlib
import functools
import html as html_module
import re
import smtplib
import socket
import ssl
import threading
import time
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection, make_msgid
from django.core.mail.backends.smtp import EmailBackend
from django.core.validators import validate_email
from django.utils.html import strip_tags

from actions.net import BlockedDestinationError, InvalidURLError, OutboundError, check_url
from actions.notify._common import string_list
from actions.redact import redact, secret_forms
from actions.sdk import Action, ActionError, Context, is_template, register
from circuits.tenancy.models.access import CredentialKind

MAX_RECIPIENTS = 100  # to + cc + bcc of one message: a notification, not a mailing list
SUBJECT_MAX = 998  # RFC 5322 line limit
DEFAULT_TIMEOUT = 30.0
_TRUE = ("1", "true", "yes", "on")
_BLOCK_END = re.compile(r"<br\s*/?>|</(?:p|div|h[1-6]|li|tr|table|ul|ol|blockquote|pre)\s*>", re.I)


def address_error(item: str) -> str | None:
    """Why `item` ("ann@example.com" or "Ann <ann@example.com>") is not a usable address, or None."""
    if "\r" in item or "\n" in item:
        return f"{item!r} contains a line break"
    _, address = parseaddr(item)
    if not address:
        return f"{item!r} is not a valid e-mail address"
    try:
        validate_email(address)
    except ValidationError:
        return f"{item!r} is not a valid e-mail address"
    return None


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML body (for mail programs that show no HTML)."""
    # Block-level ends become line breaks first, so paragraphs do not run together.
    text = _BLOCK_END.sub("\n", html)
    text = html_module.unescape(strip_tags(text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _address_list(schema_title: str, description: str, *, required: bool = False) -> dict:
    prop: dict[str, Any] = {
        "type": ["string", "array"],
        "items": {"type": "string", "minLength": 1},
        "maxItems": MAX_RECIPIENTS,
        "title": schema_title,
        "description": description,
    }
    if required:
        prop["minItems"] = 1
        prop["minLength"] = 1
    return prop


@register
class SendEmail(Action):
    name = "notify.email"
    category = "notify"
    label = "Send Email"
    description = "Sends an e-mail (plain text, optionally with an HTML version) through your SMTP server or the platform's mail service."
    schema = {
        "type": "object",
        "required": ["to", "subject"],
        "properties": {
            "to": _address_list(
                "To",
                'Recipients: a list, or one string separated by commas ("ann@example.com, Bob <bob@example.com>"). Templates allowed.',
                required=True,
            ),
            "cc": _address_list("Cc", "Copy recipients, like To."),
            "bcc": _address_list("Bcc", "Hidden recipients, like To."),
            "reply_to": _address_list("Reply-To", "Where replies go, if not to the sender."),
            "subject": {
                "type": "string",
                "minLength": 1,
                "maxLength": SUBJECT_MAX,
                "title": "Subject",
                "description": "One line. Templates allowed: Welcome, {{ trigger.name }}",
            },
            "text": {"type": "string", "title": "Text", "description": "The plain-text body. Templates allowed."},
            "html": {
                "type": "string",
                "title": "HTML",
                "description": "An HTML version of the body, shown by mail programs that can. Without Text, the text version is made from it.",
            },
            "credential": {
                "type": "string",
                "pattern": "^[-a-zA-Z0-9_]+$",
                "title": "SMTP credential",
                "description": (
                    "The name of an SMTP credential (host, port, username, password, use_tls, from_email) to send through your own "
                    "server; port 465 means implicit TLS. Leave empty to use the platform's mail service."
                ),
            },
        },
        "additionalProperties": False,
    }
    output_schema = {
        "type": "object",
        "properties": {
            "sent": {"type": "integer", "description": "Messages handed to the mail server (1, or 0 if it did not take it)."},
            "to": {"type": "array", "items": {"type": "string"}},
            "subject": {"type": "string"},
            "message_id": {"type": "string", "description": "The Message-ID header, to find the message in mail logs."},
        },
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        errors = []
        if not config.get("text") and not config.get("html"):
            errors.append("text: give the message text (or an HTML body)")
        for field in ("to", "cc", "bcc", "reply_to"):
            value = config.get(field)
            # Templated values are checked once rendered, when the step runs.
            if isinstance(value, str):
                items = [] if is_template(value) else string_list(value, field)
            elif isinstance(value, list):
                items = [i.strip() for i in value if isinstance(i, str) and i.strip() and not is_template(i)]
            else:
                items = []
            errors += [f"{field}: {problem}" for item in items if (problem := address_error(item))]
        return errors

    def run(self, ctx: Context, config: dict) -> Any:
        to = self._addresses(config, "to")
        if not to:
            raise ActionError("to: give at least one recipient")
        cc = self._addresses(config, "cc")
        bcc = self._addresses(config, "bcc")
        reply_to = self._addresses(config, "reply_to")
        if len(to) + len(cc) + len(bcc) > MAX_RECIPIENTS:
            raise ActionError(f"to: at most {MAX_RECIPIENTS} recipients (to, cc and bcc together) per message")
        subject = config.get("subject")
        if not isinstance(subject, str) or not subject.strip():
            raise ActionError("subject: is empty")
        # A header is one line; a template may render line breaks, which would be header injection.
        subject = " ".join(subject.split())[:SUBJECT_MAX]
        text, html = config.get("text") or "", config.get("html") or ""
        if not isinstance(text, str) or not isinstance(html, str):
            raise ActionError("text: the body must be text")
        if not text.strip() and not html.strip():
            raise ActionError("text: the message is empty (give text or an HTML body)")
        if not text.strip():
            text = html_to_text(html)

        credential_name = config.get("credential")
        smtp = self._smtp_settings(ctx, credential_name) if credential_name else None
        from_email = (smtp or {}).get("from_email") or settings.DEFAULT_FROM_EMAIL
        domain = parseaddr(from_email)[1].rpartition("@")[2] or "circuitos.local"
        # Derived from the step's idempotency key when there is one: a message re-sent because
        # its worker died mid-step carries the same Message-ID, so mail programs show it once.
        message_id = f"<{ctx.idempotency_key}@{domain}>" if ctx.idempotency_key else make_msgid(domain=domain)

        if smtp is not None:
            # The tenant's server is outside the platform: it obeys the same address rules as outbound
            # HTTP, and the connection goes to the addresses checked here (no second DNS lookup).
            addresses = self._check_host(ctx, smtp["host"], smtp["port"])
            # The whole exchange ends at the step's deadline: each socket operation waits at most
            # the time left, and a watchdog closes the connection at the deadline itself (a server
            # answering slowly line by line cannot stretch it), so nothing is sent after it.
            timeout = max(0.001, ctx.time_left(DEFAULT_TIMEOUT))
            connection = PinnedEmailBackend(
                addresses=addresses,
                deadline=time.monotonic() + timeout,
                host=smtp["host"],
                port=smtp["port"],
                username=smtp["username"],
                password=smtp["password"],
                use_tls=smtp["use_tls"],
                use_ssl=smtp["use_ssl"],
                timeout=timeout,
                fail_silently=False,
            )
            via = f"SMTP server {smtp['host']}:{smtp['port']}"
        else:
            connection = get_connection(fail_silently=False)
            via = "the platform's mail service"

        message = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=from_email,
            to=to,
            cc=cc,
            bcc=bcc,
            reply_to=reply_to,
            headers={"Message-ID": message_id},
            connection=connection,
        )
        if html.strip():
            message.attach_alternative(html, "text/html")

        ctx.log(f"sending {subject[:100]!r} to {len(to) + len(cc) + len(bcc)} recipient(s) through {via}")
        try:
            sent = message.send(fail_silently=False)
        except Exception as exc:
            if smtp is not None and connection.expired:
                raise ActionError(f"{via} did not finish before the step's deadline; the connection was closed") from None
            raise ActionError(self._describe_failure(exc, via, smtp)) from None
        if not sent:
            raise ActionError(f"{via} did not accept the message")
        ctx.log(f"sent, Message-ID {message_id}")
        return {"sent": sent, "to": to, "subject": subject, "message_id": message_id}

    @staticmethod
    def _addresses(config: dict, field: str) -> list[str]:
        items = string_list(config.get(field), field)
        for item in items:
            if problem := address_error(item):
                raise ActionError(f"{field}: {problem}")
        return items

    @staticmethod
    def _smtp_settings(ctx: Context, name: Any) -> dict[str, Any]:
        if not isinstance(name, str) or not name.strip():
            raise ActionError("credential: give the name of an SMTP credential")
        secret = ctx.credential(name.strip(), CredentialKind.SMTP)
        host = str(secret.get("host") or "").strip()
        if not host:
            raise ActionError(f"credential {name!r}: the SMTP host is missing")
        use_tls = secret.get("use_tls")
        use_tls = use_tls if isinstance(use_tls, bool) else str(use_tls or "").strip().lower() in _TRUE
        port_value = secret.get("port") or (587 if use_tls else 25)
        try:
            port = int(port_value)
        except (TypeError, ValueError):
            raise ActionError(f"credential {name!r}: the port {port_value!r} is not a number") from None
        if not 0 < port < 65536:
            raise ActionError(f"credential {name!r}: the port {port} is out of range")
        from_email = str(secret.get("from_email") or "").strip()
        username = str(secret.get("username") or "")
        if not from_email and "@" in username:
            from_email = username  # most providers only accept mail from the account's own address
        if from_email and address_error(from_email):
            raise ActionError(f"credential {name!r}: the sender {from_email!r} is not a valid e-mail address")
        return {
            "host": host,
            "port": port,
            "username": username,
            "password": str(secret.get("password") or ""),
            # Port 465 speaks TLS from the first byte (SMTPS); STARTTLS cannot be combined with it.
            "use_ssl": port == 465,
            "use_tls": use_tls and port != 465,
            "from_email": from_email,
        }

    @staticmethod
    def _check_host(ctx: Context, host: str, port: int) -> list[Any]:
        # actions.net judges hosts by URL; an http URL with the SMTP port names the same host:port,
        # so the allow-list entries ("mail.corp:25", "10.0.0.0/8", …) mean the same thing here.
        shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
        try:
            return check_url(ctx.tenant, f"http://{shown}:{port}/", timeout=max(0.001, ctx.time_left(10.0)))
        except InvalidURLError:
            raise ActionError(f"SMTP server: {host!r} is not a valid host name or address") from None
        except BlockedDestinationError as exc:
            raise ActionError(f"SMTP server {exc}") from None
        except OutboundError as exc:
            raise ActionError(f"SMTP server: {exc}") from None

    @staticmethod
    def _describe_failure(exc: Exception, via: str, smtp: dict[str, Any] | None) -> str:
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            message = f"{via} refused the login for {smtp['username'] if smtp else 'the configured user'!r}: {_smtp_reply(exc)}"
        elif isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = ", ".join(f"{rcpt} ({_smtp_reply(reply)})" for rcpt, reply in list(exc.recipients.items())[:10])
            message = f"{via} refused every recipient: {refused}"
        elif isinstance(exc, smtplib.SMTPSenderRefused):
            message = f"{via} refused the sender {exc.sender!r}: {_smtp_reply(exc)}"
        elif isinstance(exc, smtplib.SMTPNotSupportedError):
            message = f"{via} does not support what the credential asks for (STARTTLS or login): {exc}"
        elif isinstance(exc, smtplib.SMTPResponseException):
            message = f"{via} answered with an error: {_smtp_reply(exc)}"
        elif isinstance(exc, smtplib.SMTPServerDisconnected):
            message = f"{via} closed the connection unexpectedly"
        elif isinstance(exc, smtplib.SMTPException):
            message = f"{via} failed: {exc}"
        elif isinstance(exc, TimeoutError | socket.timeout):
            message = f"{via} did not answer in time"
        elif isinstance(exc, ssl.SSLError | ssl.CertificateError):
            message = f"TLS with {via} failed: {getattr(exc, 'reason', None) or exc}"
        elif isinstance(exc, ConnectionRefusedError):
            message = f"could not connect to {via}: connection refused"
        elif isinstance(exc, OSError):
            message = f"could not reach {via}: {exc.strerror or exc}"
        else:
            message = f"sending through {via} failed: {type(exc).__name__}: {exc}"
        # Belt and braces: a server may echo what it was sent (the password, or its base64 from AUTH).
        message = redact(message, secret_forms(str((smtp or {}).get("password") or "")))
        return message[:1000]


# --------------------------------------------------------------------------- pinned SMTP


def _connect_pinned(addresses: list[Any], port: int, timeout: float | None, source_address: Any) -> socket.socket:
    """A TCP connection to the first of the checked addresses that answers (as the HTTP guard does)."""
    if not addresses:
        raise OSError("no checked address to connect to")
    last_error: OSError | None = None
    for ip in addresses:
        try:
            return socket.create_connection((str(ip), port), timeout, source_address)
        except OSError as exc:
            last_error = exc
    assert last_error is not None
    raise last_error


class _Deadline:
    """Closes an SMTP connection at a monotonic deadline (None: never), waking a read blocked on it."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.expired = threading.Event()
        self._timer: threading.Timer | None = None

    def arm(self, current: Any) -> None:
        """`current()` is the socket in use when the deadline comes (STARTTLS replaces it)."""
        if self.deadline is None:
            return

        def expire() -> None:
            self.expired.set()
            sock = current()
            if sock is not None:
                with contextlib.suppress(OSError):
                    # socket.socket's own shutdown, also under TLS (as actions.net does).
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

        self._timer = threading.Timer(max(0.0, self.deadline - time.monotonic()), expire)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class PinnedSMTP(smtplib.SMTP):
    """smtplib.SMTP that connects to `addresses` (checked by the outbound guard) instead of resolving
    `host` again — a DNS answer that changes after the check (rebinding) reaches nothing else. The
    host name stays what smtplib knows (`_host`): STARTTLS sends it as SNI and checks the
    certificate against it. The connection is closed at `deadline` (see _Deadline)."""

    def __init__(self, host: str = "", port: int = 0, *, addresses: list[Any], deadline: _Deadline | None = None, **kwargs: Any) -> None:
        self._addresses = list(addresses)
        self._deadline = deadline or _Deadline(None)
        super().__init__(host, port, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float | None) -> socket.socket:
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        sock = _connect_pinned(self._addresses, port, timeout, self.source_address)
        self._deadline.arm(lambda: getattr(self, "sock", None) or sock)
        return sock

    def close(self) -> None:
        self._deadline.disarm()
        super().close()


class PinnedSMTPSSL(smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL (port 465) pinned like PinnedSMTP; TLS from the first byte, SNI and certificate on the name."""

    def __init__(self, host: str = "", port: int = 0, *, addresses: list[Any], deadline: _Deadline | None = None, **kwargs: Any) -> None:
        self._addresses = list(addresses)
        self._deadline = deadline or _Deadline(None)
        super().__init__(host, port, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float | None) -> socket.socket:
        raw = _connect_pinned(self._addresses, port, timeout, self.source_address)
        sock = self.context.wrap_socket(raw, server_hostname=self._host)
        self._deadline.arm(lambda: sock)
        return sock

    def close(self) -> None:
        self._deadline.disarm()
        super().close()


class PinnedEmailBackend(EmailBackend):
    """Django's SMTP backend over PinnedSMTP / PinnedSMTPSSL, ending every exchange at `deadline` (monotonic)."""

    def __init__(self, *args: Any, addresses: list[Any], deadline: float | None = None, **kwargs: Any) -> None:
        self.addresses = list(addresses)
        self.deadline = _Deadline(deadline)
        super().__init__(*args, **kwargs)

    @property
    def expired(self) -> bool:
        return self.deadline.expired.is_set() or (self.deadline.deadline is not None and time.monotonic() >= self.deadline.deadline)

    @property
    def connection_class(self):
        return functools.partial(PinnedSMTPSSL if self.use_ssl else PinnedSMTP, addresses=self.addresses, deadline=self.deadline)


def _smtp_reply(error: Any) -> str:
    """ "550 no such user" from an smtplib error or a (code, message) tuple."""
    if isinstance(error, tuple) and len(error) == 2:
        code, text = error
    else:
        code, text = getattr(error, "smtp_code", ""), getattr(error, "smtp_error", b"")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()[:300]
