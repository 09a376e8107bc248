"""notify.slack against a real local HTTP server playing Slack's incoming webhook."""

from __future__ import annotations

import json

import pytest

from actions.notify.tests.conftest import WEBHOOK_PATH, allow, make_ctx
from actions.sdk import ActionError, registry
from circuits.tenancy.credentials import save_credential

Slack = registry.get("notify.slack")
SECRET_PART = WEBHOOK_PATH.rsplit("/", 1)[1]


def _no_secret(ctx, *things) -> None:
    dumped = json.dumps(ctx.logs) + "".join(json.dumps(t, default=str) for t in things)
    assert SECRET_PART not in dumped
    assert WEBHOOK_PATH not in dumped


@pytest.fixture
def hook(world, slack):
    allow(world.tenant, slack.port)
    save_credential(world.tenant, "team-alerts", "slack_webhook", {"url": slack.webhook_url})
    return slack


def test_slack_posts_the_message_to_the_webhook_and_reports_ok(world, hook):
    ctx = make_ctx(world.tenant)
    config = {"credential": "team-alerts", "text": "New lead: *Ann*", "username": "Circuit OS", "icon_emoji": ":robot_face:", "thread_ts": "1712345678.000100"}
    assert Slack.validate_config(config) == []

    output = Slack().run(ctx, config)

    assert output == {"ok": True, "status": 200, "response": "ok"}
    assert hook.paths == [WEBHOOK_PATH]
    assert hook.received == [{"text": "New lead: *Ann*", "username": "Circuit OS", "icon_emoji": ":robot_face:", "thread_ts": "1712345678.000100"}]
    _no_secret(ctx, output)


def test_slack_sends_block_kit_blocks_without_text(world, hook):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Deal won* :tada:"}}, {"type": "divider"}]
    config = {"credential": "team-alerts", "blocks": blocks}
    assert Slack.validate_config(config) == []

    Slack().run(make_ctx(world.tenant), config)

    assert hook.received == [{"blocks": blocks}]


def test_slack_accepts_blocks_rendered_as_json_text(world, hook):
    blocks = [{"type": "divider"}]
    Slack().run(make_ctx(world.tenant), {"credential": "team-alerts", "text": "fallback", "blocks": json.dumps(blocks)})

    assert hook.received == [{"text": "fallback", "blocks": blocks}]


def test_slack_config_without_text_or_blocks_names_the_text_field():
    errors = Slack.validate_config({"credential": "team-alerts"})

    assert errors == ["text: give the message text (or Blocks)"]


def test_slack_config_requires_the_credential_and_refuses_unknown_fields():
    errors = Slack.validate_config({"text": "hi", "channel": "#general"})

    assert any(e.startswith("config:") and "credential" in e for e in errors)
    assert any("channel" in e for e in errors)


def test_slack_config_refuses_blocks_that_are_not_block_objects():
    assert any(e.startswith("blocks") for e in Slack.validate_config({"credential": "c", "blocks": [{"text": "no type"}]}))
    assert Slack.validate_config({"credential": "c", "blocks": "not json"}) == [
        "blocks: expected a list of Block Kit objects (JSON), got text that is not JSON"
    ]
    # A template is checked once rendered, when the step runs.
    assert Slack.validate_config({"credential": "c", "blocks": "{{ steps.build.output.blocks }}"}) == []


def test_slack_empty_rendered_text_fails_naming_the_field(world, hook):
    with pytest.raises(ActionError, match=r"^text: the message is empty"):
        Slack().run(make_ctx(world.tenant), {"credential": "team-alerts", "text": "  "})
    assert hook.received == []


def test_slack_error_status_fails_with_status_and_body_excerpt(world, hook):
    hook.status, hook.answer = 500, "internal_error: something broke on our side"
    ctx = make_ctx(world.tenant)

    with pytest.raises(ActionError) as caught:
        Slack().run(ctx, {"credential": "team-alerts", "text": "hello"})

    assert str(caught.value) == "Slack answered 500: internal_error: something broke on our side"
    _no_secret(ctx, str(caught.value))


def test_slack_invalid_payload_answer_is_shown(world, hook):
    hook.status, hook.answer = 400, "invalid_blocks"

    with pytest.raises(ActionError, match=r"^Slack answered 400: invalid_blocks$"):
        Slack().run(make_ctx(world.tenant), {"credential": "team-alerts", "blocks": [{"type": "nonsense"}]})


def test_slack_missing_credential_fails(world):
    with pytest.raises(ActionError, match="No credential named 'nope'"):
        Slack().run(make_ctx(world.tenant), {"credential": "nope", "text": "hi"})


def test_slack_credential_of_another_kind_is_refused(world):
    save_credential(world.tenant, "mail", "smtp", {"host": "127.0.0.1"})

    with pytest.raises(ActionError, match="is a smtp, expected slack_webhook"):
        Slack().run(make_ctx(world.tenant), {"credential": "mail", "text": "hi"})


def test_slack_cannot_use_another_tenants_credential(world, slack):
    save_credential(world.other_tenant, "their-hook", "slack_webhook", {"url": slack.webhook_url})

    with pytest.raises(ActionError, match="No credential named 'their-hook'"):
        Slack().run(make_ctx(world.tenant), {"credential": "their-hook", "text": "hi"})
    assert slack.received == []


def test_slack_refuses_loopback_webhook_without_allowlist_and_hides_the_url(world, slack):
    save_credential(world.tenant, "team-alerts", "slack_webhook", {"url": slack.webhook_url})
    ctx = make_ctx(world.tenant)

    with pytest.raises(ActionError) as caught:
        Slack().run(ctx, {"credential": "team-alerts", "text": "hi"})

    assert "loopback" in str(caught.value)
    assert slack.received == []
    _no_secret(ctx, str(caught.value))


def test_slack_unreachable_webhook_fails_without_showing_the_url(world):
    from actions.notify.tests.conftest import free_port

    port = free_port()
    allow(world.tenant, port)
    save_credential(world.tenant, "team-alerts", "slack_webhook", {"url": f"http://127.0.0.1:{port}{WEBHOOK_PATH}"})
    ctx = make_ctx(world.tenant)

    with pytest.raises(ActionError) as caught:
        Slack().run(ctx, {"credential": "team-alerts", "text": "hi"})

    assert "could not connect" in str(caught.value)
    _no_secret(ctx, str(caught.value))


def test_slack_malformed_webhook_url_error_does_not_echo_it(world):
    save_credential(world.tenant, "team-alerts", "slack_webhook", {"url": f"ftp://hooks.example{WEBHOOK_PATH}"})
    ctx = make_ctx(world.tenant)

    with pytest.raises(ActionError) as caught:
        Slack().run(ctx, {"credential": "team-alerts", "text": "hi"})

    assert "only http and https" in str(caught.value)
    _no_secret(ctx, str(caught.value))


# --------------------------------------------------------------------------- the URL is checked when saved


BAD_WEBHOOK_URLS = [
    "https://collector.example.com/services/T0001/B0002/x",  # not Slack, not allow-listed
    "http://hooks.slack.com/services/T0001/B0002/x",  # Slack, but not https
    "https://hooks.slack.com/",  # no webhook path
    "https://hooks.slack.com:8443/services/T0001/B0002/x",
    "https://hooks.slack.com.collector.example/services/T0001/B0002/x",
    "https://user:pw@hooks.slack.com/services/T0001/B0002/x",
    "javascript:alert(1)",
    "https://hooks.slack.com/services/T0001/B0002/x\nX-Injected: 1",
]


@pytest.mark.parametrize("url", BAD_WEBHOOK_URLS)
def test_saving_a_slack_credential_refuses_urls_that_are_not_slack_webhooks(world, url):
    from django.core.exceptions import ValidationError

    from circuits.automation.services.tenant_settings import SaveCredential
    from circuits.tenancy.models.access import Credential

    with pytest.raises(ValidationError) as caught:
        SaveCredential(world.tenant, world.admin, name="alerts", kind="slack_webhook", secret={"url": url}).execute()
    message = " ".join(caught.value.message_dict["secret"])
    assert message.startswith("url: the webhook URL ")
    assert "T0001/B0002" not in message and "collector" not in message  # the URL is the secret: never echoed
    assert not Credential.objects.exists()


def test_saving_a_slack_credential_accepts_slack_and_allow_listed_hosts(world, slack):
    from circuits.automation.services.tenant_settings import SaveCredential

    SaveCredential(world.tenant, world.admin, name="real", kind="slack_webhook", secret={"url": "https://hooks.slack.com/services/T0001/B0002/xyz"}).execute()
    SaveCredential(
        world.tenant, world.admin, name="flow", kind="slack_webhook", secret={"url": "https://hooks.slack.com/workflows/T0001/A0002/1/xyz"}
    ).execute()
    # A local inbox (the demo's) or an own relay: allowed once the allow-list names it.
    allow(world.tenant, slack.port)
    SaveCredential(world.tenant, world.admin, name="local", kind="slack_webhook", secret={"url": slack.webhook_url}).execute()
    assert Slack().run(make_ctx(world.tenant), {"credential": "local", "text": "hi"})["ok"] is True


def test_the_api_and_the_settings_page_refuse_a_slack_url_that_is_not_a_webhook(world, client_for):
    from rest_framework.test import APIClient

    from circuits.tenancy.models.access import Credential

    api = APIClient()
    api.force_login(world.admin)
    api.credentials(HTTP_X_TENANT=world.tenant.slug)
    url = "https://collector.example.com/hook"
    response = api.post("/api/v1/credentials", {"name": "alerts", "kind": "slack_webhook", "secret": {"url": url}}, format="json")
    assert response.status_code == 400 and "url: the webhook URL must be a Slack incoming-webhook URL" in response.json()["errors"]["secret"][0]
    form = {"name": "alerts", "kind": "slack_webhook", "secret-slack_webhook-url": url}
    page = client_for(world.admin).post(f"/t/{world.tenant.slug}/settings/credentials/", form)
    assert page.status_code == 400 and "must be a Slack incoming-webhook URL" in page.content.decode()
    assert not Credential.objects.exists()


def test_slack_posts_carry_the_steps_idempotency_key(world, hook):
    ctx = make_ctx(world.tenant)
    ctx.idempotency_key = "k" * 48
    Slack().run(ctx, {"credential": "team-alerts", "text": "once"})
    Slack().run(make_ctx(world.tenant), {"credential": "team-alerts", "text": "outside a step"})
    assert hook.headers[0]["idempotency-key"] == "k" * 48
    assert "idempotency-key" not in hook.headers[1]


def test_a_slack_relay_on_an_internationalised_host_is_accepted_once_the_allow_list_names_it(world):
    from django.core.exceptions import ValidationError

    from circuits.automation.services.tenant_settings import SaveCredential

    url = "https://bücher.example/hook/secret"
    with pytest.raises(ValidationError):
        SaveCredential(world.tenant, world.admin, name="relay", kind="slack_webhook", secret={"url": url}).execute()
    world.tenant.outbound_allowlist = ["bücher.example"]  # stored, like the URL's host, in its IDNA form
    world.tenant.save(update_fields=["outbound_allowlist"])
    SaveCredential(world.tenant, world.admin, name="relay", kind="slack_webhook", secret={"url": url}).execute()
