"""notify.email through Django's locmem outbox and through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json

import pytest
from django.core import mail

from actions.notify.tests.conftest import SMTP_PASSWORD, SMTP_USER, allow, free_port, make_ctx
from actions.sdk import ActionError, registry
from circuits.tenancy.credentials import save_credential

Email = registry.get("notify.email")


def _no_password(ctx, *things) -> None:
    dumped = json.dumps(ctx.logs) + "".join(json.dumps(t, default=str) for t in things)
    assert SMTP_PASSWORD not in dumped


@pytest.fixture
def smtp(world, smtp_server):
    allow(world.tenant, smtp_server.port)
    save_credential(
        world.tenant,
        "company-smtp",
        "smtp",
        {
            "host": "127.0.0.1",
            "port": smtp_server.port,
            "username": SMTP_USER,
            "password": SMTP_PASSWORD,
            "use_tls": False,
            "from_email": "Acme <ops@acme.test>",
        },
    )
    return smtp_server


# --------------------------------------------------------------------------- platform backend (locmem)


def test_email_without_credential_goes_through_the_platform_backend(world):
    ctx = make_ctx(world.tenant)
    config = {
        "to": ["ann@example.com", "Bob <bob@example.com>"],
        "cc": "carol@example.com",
        "subject": "Welcome",
        "text": "Hello there",
        "reply_to": "help@acme.test",
    }
    assert Email.validate_config(config) == []

    output = Email().run(ctx, config)

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ann@example.com", "Bob <bob@example.com>"]
    assert sent.cc == ["carol@example.com"]
    assert sent.reply_to == ["help@acme.test"]
    assert sent.subject == "Welcome"
    assert sent.body == "Hello there"
    assert sent.extra_headers["Message-ID"] == output["message_id"]
    assert output == {"sent": 1, "to": ["ann@example.com", "Bob <bob@example.com>"], "subject": "Welcome", "message_id": output["message_id"]}
    assert output["message_id"].startswith("<") and output["message_id"].endswith(">")


def test_email_accepts_a_comma_separated_recipient_string_from_a_template(world):
    Email().run(make_ctx(world.tenant), {"to": "ann@example.com, bob@example.com;carol@example.com", "subject": "Hi", "text": "x"})

    assert mail.outbox[0].to == ["ann@example.com", "bob@example.com", "carol@example.com"]


def test_email_splits_strings_on_commas_outside_quoted_names_and_flattens_rendered_lists(world):
    config = {"to": '"Doe, Jo" <jo@example.com>; ann@example.com', "cc": [["carol@example.com", "dan@example.com"]], "subject": "Hi", "text": "x"}

    output = Email().run(make_ctx(world.tenant), config)

    assert output["to"] == ['"Doe, Jo" <jo@example.com>', "ann@example.com"]
    assert mail.outbox[0].cc == ["carol@example.com", "dan@example.com"]


def test_email_with_html_only_gets_a_plain_text_version(world):
    Email().run(make_ctx(world.tenant), {"to": ["ann@example.com"], "subject": "Report", "html": "<h1>Weekly</h1><p>All <b>green</b> &amp; fine</p>"})

    sent = mail.outbox[0]
    assert sent.body == "Weekly\nAll green & fine"
    assert sent.alternatives[0][0] == "<h1>Weekly</h1><p>All <b>green</b> &amp; fine</p>"
    assert sent.alternatives[0][1] == "text/html"


def test_email_subject_with_line_breaks_is_kept_on_one_line(world):
    Email().run(make_ctx(world.tenant), {"to": ["ann@example.com"], "subject": "Hello\r\nBcc: victim@example.com", "text": "x"})

    assert mail.outbox[0].subject == "Hello Bcc: victim@example.com"
    assert mail.outbox[0].bcc == []


# --------------------------------------------------------------------------- bad config


def test_email_config_with_an_invalid_address_names_the_field():
    errors = Email.validate_config({"to": ["ann@example.com", "not-an-address"], "subject": "Hi", "text": "x"})

    assert errors == ["to: 'not-an-address' is not a valid e-mail address"]


def test_email_config_checks_cc_bcc_and_reply_to_addresses():
    errors = Email.validate_config({"to": "ann@example.com", "cc": ["x@"], "bcc": "bob@", "reply_to": "@y", "subject": "Hi", "text": "x"})

    assert [e.split(":")[0] for e in errors] == ["cc", "bcc", "reply_to"]


def test_email_config_without_a_body_names_the_text_field():
    assert Email.validate_config({"to": "ann@example.com", "subject": "Hi"}) == ["text: give the message text (or an HTML body)"]


def test_email_config_requires_recipients_and_subject():
    errors = Email.validate_config({"text": "x"})

    assert any("'to' is a required property" in e for e in errors)
    assert any("'subject' is a required property" in e for e in errors)
    assert any(e.startswith("to:") for e in Email.validate_config({"to": [], "subject": "s", "text": "x"}))


def test_email_config_leaves_templated_addresses_to_run_time():
    assert Email.validate_config({"to": "{{ trigger.email }}", "cc": ["{{ vars.boss }}"], "subject": "Hi", "text": "x"}) == []


def test_email_rendered_invalid_address_fails_naming_the_field(world):
    with pytest.raises(ActionError, match=r"^cc: 'bob at example' is not a valid e-mail address$"):
        Email().run(make_ctx(world.tenant), {"to": "ann@example.com", "cc": "bob at example", "subject": "Hi", "text": "x"})
    assert mail.outbox == []


def test_email_rendered_empty_recipient_list_fails(world):
    with pytest.raises(ActionError, match=r"^to: give at least one recipient"):
        Email().run(make_ctx(world.tenant), {"to": "", "subject": "Hi", "text": "x"})


def test_email_refuses_an_address_with_a_line_break(world):
    with pytest.raises(ActionError, match=r"^to: .*line break"):
        Email().run(make_ctx(world.tenant), {"to": ["ann@example.com\nBcc: x@example.com"], "subject": "Hi", "text": "x"})


# --------------------------------------------------------------------------- real SMTP server


def test_email_through_an_smtp_credential_reaches_the_real_server(world, smtp):
    ctx = make_ctx(world.tenant)
    config = {
        "credential": "company-smtp",
        "to": ["ann@example.com"],
        "cc": ["carol@example.com"],
        "bcc": ["audit@acme.test"],
        "subject": "Your invoice",
        "text": "Plain version",
        "html": "<p>HTML <b>version</b></p>",
    }

    output = Email().run(ctx, config)

    assert mail.outbox == []  # not the platform backend
    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received.mail_from == "ops@acme.test"
    assert sorted(received.rcpt_tos) == ["ann@example.com", "audit@acme.test", "carol@example.com"]
    message = received.message
    assert message["Subject"] == "Your invoice"
    assert message["To"] == "ann@example.com"
    assert message["Cc"] == "carol@example.com"
    assert message["Bcc"] is None  # bcc is in the envelope only
    assert message["From"] == "Acme <ops@acme.test>"
    assert message["Message-ID"] == output["message_id"]
    assert output["message_id"].endswith("@acme.test>")
    assert message.get_body(("plain",)).get_content().strip() == "Plain version"
    assert message.get_body(("html",)).get_content().strip() == "<p>HTML <b>version</b></p>"
    assert output["sent"] == 1
    assert any(f"SMTP server 127.0.0.1:{smtp.port}" in entry["message"] for entry in ctx.logs)
    _no_password(ctx, output)


def test_email_with_a_wrong_smtp_password_fails_without_showing_it(world, smtp):
    save_credential(world.tenant, "bad-login", "smtp", {"host": "127.0.0.1", "port": smtp.port, "username": SMTP_USER, "password": "wrong-" + SMTP_PASSWORD})
    ctx = make_ctx(world.tenant)

    with pytest.raises(ActionError) as caught:
        Email().run(ctx, {"credential": "bad-login", "to": "ann@example.com", "subject": "Hi", "text": "x"})

    assert "refused the login for 'mailer'" in str(caught.value)
    assert "535" in str(caught.value)
    assert smtp.messages == []
    _no_password(ctx, str(caught.value))


def test_email_fails_when_the_smtp_server_refuses_every_recipient(world, smtp):
    smtp.handler.refuse_recipients = True
    ctx = make_ctx(world.tenant)

    with pytest.raises(ActionError) as caught:
        Email().run(ctx, {"credential": "company-smtp", "to": "ann@example.com", "subject": "Hi", "text": "x"})

    assert "refused every recipient: ann@example.com (550 5.1.1 mailbox unavailable)" in str(caught.value)
    _no_password(ctx, str(caught.value))


def test_email_fails_when_the_smtp_server_is_down(world):
    port = free_port()
    allow(world.tenant, port)
    save_credential(world.tenant, "down", "smtp", {"host": "127.0.0.1", "port": port, "username": SMTP_USER, "password": SMTP_PASSWORD})
    ctx = make_ctx(world.tenant)

    with pytest.raises(ActionError) as caught:
        Email().run(ctx, {"credential": "down", "to": "ann@example.com", "subject": "Hi", "text": "x"})

    assert str(caught.value) == f"could not connect to SMTP server 127.0.0.1:{port}: connection refused"
    _no_password(ctx, str(caught.value))


def test_email_refuses_a_loopback_smtp_host_the_allowlist_does_not_name(world, smtp_server):
    save_credential(world.tenant, "company-smtp", "smtp", {"host": "127.0.0.1", "port": smtp_server.port, "password": SMTP_PASSWORD})

    with pytest.raises(ActionError, match=r"^SMTP server refused: 127.0.0.1 is a loopback address"):
        Email().run(make_ctx(world.tenant), {"credential": "company-smtp", "to": "ann@example.com", "subject": "Hi", "text": "x"})
    assert smtp_server.messages == []


def test_email_allowlist_entry_for_another_port_does_not_open_the_smtp_port(world, smtp_server):
    world.tenant.outbound_allowlist = [f"127.0.0.1:{smtp_server.port + 1}"]
    world.tenant.save()
    save_credential(world.tenant, "company-smtp", "smtp", {"host": "127.0.0.1", "port": smtp_server.port})

    with pytest.raises(ActionError, match="loopback"):
        Email().run(make_ctx(world.tenant), {"credential": "company-smtp", "to": "ann@example.com", "subject": "Hi", "text": "x"})
    assert smtp_server.messages == []


def test_email_missing_credential_fails(world):
    with pytest.raises(ActionError, match="No credential named 'nope'"):
        Email().run(make_ctx(world.tenant), {"credential": "nope", "to": "ann@example.com", "subject": "Hi", "text": "x"})
    assert mail.outbox == []


def test_email_credential_of_another_kind_is_refused(world):
    save_credential(world.tenant, "hook", "slack_webhook", {"url": "https://hooks.slack.com/services/x"})

    with pytest.raises(ActionError, match="is a slack_webhook, expected smtp"):
        Email().run(make_ctx(world.tenant), {"credential": "hook", "to": "ann@example.com", "subject": "Hi", "text": "x"})
    assert mail.outbox == []


def test_email_credential_with_a_bad_port_names_it(world):
    save_credential(world.tenant, "odd", "smtp", {"host": "127.0.0.1", "port": "twenty-five"})

    with pytest.raises(ActionError, match="credential 'odd': the port 'twenty-five' is not a number"):
        Email().run(make_ctx(world.tenant), {"credential": "odd", "to": "ann@example.com", "subject": "Hi", "text": "x"})


def test_email_sent_again_by_a_re_run_step_keeps_its_message_id(world):
    """The Message-ID comes from the step's idempotency key: a re-sent message is recognisably the same."""
    ctx = make_ctx(world.tenant)
    ctx.idempotency_key = "a1b2" * 12
    config = {"to": "ann@example.com", "subject": "Once", "text": "Hello"}
    first = Email().run(ctx, config)
    again = Email().run(ctx, config)
    other = Email().run(make_ctx(world.tenant), config)
    assert first["message_id"] == again["message_id"] == f"<{'a1b2' * 12}@localhost>"  # the sender's domain
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [first["message_id"], first["message_id"], other["message_id"]]
    assert other["message_id"] != first["message_id"]
