"""notify.inapp: notifications stored in the database and pushed to the tenant's live group."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import override_settings

from actions.notify.tests.conftest import make_ctx
from actions.sdk import ActionError, registry
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.models.version import CircuitVersion
from circuits.automation.notifications import link_error, resolve_members
from circuits.tenancy.models.notifications import Notification

InApp = registry.get("notify.inapp")


class GroupListener:
    """A real channel on the configured layer, subscribed to one group."""

    def __init__(self, group: str) -> None:
        self.layer = get_channel_layer()
        self.group = group
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group, self.channel)

    def receive(self, timeout: float = 3.0) -> dict:
        async def _receive() -> dict:
            return await asyncio.wait_for(self.layer.receive(self.channel), timeout)

        return async_to_sync(_receive)()

    def close(self) -> None:
        async_to_sync(self.layer.group_discard)(self.group, self.channel)


@pytest.fixture
def listener(world):
    listening = GroupListener(f"tenant.{world.tenant.pk}")
    yield listening
    listening.close()


def _execution(tenant) -> Execution:
    circuit = Circuit.objects.create(tenant=tenant, name="Leads", slug="leads")
    version = CircuitVersion.objects.create(tenant=tenant, circuit=circuit, number=1)
    return Execution.objects.create(tenant=tenant, circuit=circuit, version=version)


def test_inapp_for_everyone_stores_one_tenant_wide_notification_and_publishes_it(world, listener):
    execution = _execution(world.tenant)
    ctx = make_ctx(world.tenant, execution)
    config = {"title": "Deal won", "body": "Acme signed", "level": "success", "link": "/circuits/1/", "recipients": "all"}
    assert InApp.validate_config(config) == []

    output = InApp().run(ctx, config)

    notification = Notification.objects.for_tenant(world.tenant).get()
    assert output == {"created": 1, "notification_ids": [notification.pk]}
    assert (notification.user, notification.title, notification.body, notification.level, notification.link) == (
        None,
        "Deal won",
        "Acme signed",
        "success",
        "/circuits/1/",
    )
    assert notification.execution == execution
    message = listener.receive()
    assert message["type"] == "circuit.event"
    event = message["event"]
    assert event["kind"] == "notification"
    assert (event["id"], event["title"], event["level"], event["user_id"], event["execution_id"]) == (
        notification.pk,
        "Deal won",
        "success",
        None,
        execution.pk,
    )


def test_inapp_defaults_to_everyone_at_info_level(world):
    output = InApp().run(make_ctx(world.tenant), {"title": "Heads up"})

    notification = Notification.objects.get(pk=output["notification_ids"][0])
    assert (notification.tenant, notification.user, notification.level, notification.execution) == (world.tenant, None, "info", None)


def test_inapp_notifies_named_members_by_username_and_email(world, listener):
    config = {"title": "Review needed", "recipients": ["editor-a", "VIEWER-A@example.test", "editor-a"]}

    output = InApp().run(make_ctx(world.tenant), config)

    rows = list(Notification.objects.for_tenant(world.tenant).order_by("pk"))
    assert [n.user for n in rows] == [world.editor, world.viewer]
    assert output == {"created": 2, "notification_ids": [n.pk for n in rows]}
    events = [listener.receive()["event"], listener.receive()["event"]]
    assert [(e["user_id"], e["user"]) for e in events] == [(world.editor.pk, "editor-a"), (world.viewer.pk, "viewer-a")]


def test_inapp_accepts_recipients_as_a_comma_separated_string(world):
    InApp().run(make_ctx(world.tenant), {"title": "Hi", "recipients": "owner-a, admin-a@example.test"})

    assert {n.user for n in Notification.objects.for_tenant(world.tenant)} == {world.owner, world.admin}


def test_inapp_refuses_recipients_from_another_tenant_naming_them(world):
    config = {"title": "Secret", "recipients": ["editor-a", "outsider", "outsider@example.test", "ghost"]}

    with pytest.raises(ActionError) as caught:
        InApp().run(make_ctx(world.tenant), config)

    assert str(caught.value) == "recipients: not members of Acme: outsider, outsider@example.test, ghost"
    assert not Notification.objects.exists()  # nothing half-sent, in any tenant


def test_inapp_for_everyone_never_reaches_another_tenant(world):
    InApp().run(make_ctx(world.tenant), {"title": "Acme only"})

    assert Notification.objects.for_tenant(world.other_tenant).count() == 0
    assert Notification.objects.filter(user=world.outsider).count() == 0


def test_inapp_config_with_a_bad_level_names_the_field():
    errors = InApp.validate_config({"title": "x", "level": "critical"})

    assert len(errors) == 1 and errors[0].startswith("level:")


def test_inapp_config_requires_a_title():
    assert any("'title' is a required property" in e for e in InApp.validate_config({"body": "x"}))
    assert any(e.startswith("title:") for e in InApp.validate_config({"title": ""}))


@pytest.mark.parametrize("link", ["javascript:alert(1)", "//evil.example/x", "/\\evil.example", "data:text/html,hi", "ftp://files.example/x", "https://"])
def test_inapp_config_refuses_links_that_are_not_site_paths_or_http_urls(link):
    errors = InApp.validate_config({"title": "x", "link": link})

    assert len(errors) == 1
    assert errors[0].startswith("link: must be a path on this site (starting with")


def test_inapp_rendered_bad_link_fails_naming_the_field(world):
    with pytest.raises(ActionError, match=r"^link: "):
        InApp().run(make_ctx(world.tenant), {"title": "x", "link": "javascript:alert(document.cookie)"})
    assert not Notification.objects.exists()


def test_inapp_rendered_bad_level_fails_naming_the_field(world):
    with pytest.raises(ActionError, match=r"^level: 'loud' is not one of info, success, warning, error$"):
        InApp().run(make_ctx(world.tenant), {"title": "x", "level": "loud"})


def test_inapp_rendered_empty_title_fails(world):
    with pytest.raises(ActionError, match=r"^title: is empty"):
        InApp().run(make_ctx(world.tenant), {"title": "  \n "})


def test_inapp_keeps_a_long_rendered_title_to_one_line_that_fits(world):
    output = InApp().run(make_ctx(world.tenant), {"title": "Line one\nline two " + "x" * 400})

    title = Notification.objects.get(pk=output["notification_ids"][0]).title
    assert title.startswith("Line one line two ") and len(title) == 200


def test_inapp_still_succeeds_when_there_is_no_channel_layer(world):
    with override_settings(CHANNEL_LAYERS={}):
        assert get_channel_layer() is None
        output = InApp().run(ctx := make_ctx(world.tenant), {"title": "Stored anyway"})

    assert Notification.objects.filter(pk__in=output["notification_ids"]).count() == 1
    assert ctx.logs[-1]["level"] == "warning"


def test_inapp_still_succeeds_when_the_channel_layer_is_unreachable(world):
    unreachable = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}
    with override_settings(CHANNEL_LAYERS=unreachable):
        output = InApp().run(ctx := make_ctx(world.tenant), {"title": "Stored anyway", "recipients": ["owner-a"]})

    assert Notification.objects.get(pk=output["notification_ids"][0]).user == world.owner
    assert "live update could not be sent" in ctx.logs[-1]["message"]


def test_resolve_members_only_finds_members_of_the_tenant(world):
    found, missing = resolve_members(world.tenant, ["owner-a", "outsider", "OPERATOR-a@Example.test", "", "nobody@example.test"])

    assert found == [world.owner, world.operator]
    assert missing == ["outsider", "nobody@example.test"]


def test_link_error_accepts_site_paths_and_http_urls():
    assert link_error("/records/lead/42/") is None
    assert link_error("https://crm.example.com/deals/7?tab=notes") is None
    assert link_error("") is None
    assert link_error("/ok\n") is not None
