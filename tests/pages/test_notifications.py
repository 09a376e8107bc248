"""Notifications: the member's list, mark as read, and the bell."""

from __future__ import annotations

import pytest

from circuits.automation.notifications import create_notifications
from circuits.tenancy.models.notifications import Notification

pytestmark = pytest.mark.django_db
URL = "/t/acme/notifications/"


def notify(world, title: str, users=None, tenant=None, **kw):
    return create_notifications(tenant or world.tenant, title=title, users=users, publish=False, **kw)[0]


def test_a_member_sees_their_own_and_everyones_notifications_only(client_for, world):
    mine = notify(world, "For the viewer", users=[world.viewer])
    everyone = notify(world, "For everyone")
    notify(world, "For the editor", users=[world.editor])
    notify(world, "Other tenant", tenant=world.other_tenant)
    response = client_for(world.viewer).get(URL)
    assert [n.pk for n in response.context["notifications"]] == [everyone.pk, mine.pk]
    page = response.content.decode()
    assert "For the editor" not in page and "Other tenant" not in page


def test_marking_one_as_read(client_for, world):
    n = notify(world, "Read me", users=[world.viewer])
    other = notify(world, "Not me", users=[world.editor])
    response = client_for(world.viewer).post(f"{URL}read", {"ids": [n.pk, other.pk]})
    assert response.status_code == 302
    n.refresh_from_db()
    other.refresh_from_db()
    assert n.read_at is not None and other.read_at is None  # someone else's stays unread


def test_mark_all_as_read_and_the_unread_filter(client_for, world):
    notify(world, "One", users=[world.viewer])
    notify(world, "Two")
    client = client_for(world.viewer)
    assert client.get(URL, {"unread": "1"}).context["unread_count"] == 2
    client.post(f"{URL}read", {"all": "1"})
    assert not Notification.objects.filter(user=world.viewer, read_at__isnull=True).exists()
    assert Notification.objects.get(title="Two").reads.filter(user=world.viewer).exists()
    assert list(client.get(URL, {"unread": "1"}).context["notifications"]) == []


def test_marking_over_htmx_redraws_the_list_and_tells_the_bell(client_for, world):
    n = notify(world, "Ping", users=[world.viewer])
    response = client_for(world.viewer).post(f"{URL}read", {"ids": [n.pk]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Trigger"] == "notifications-changed"
    body = response.content.decode()
    assert '<div id="notif-results"' in body and "<html" not in body and "Mark as read" not in body


def test_marking_nothing_is_a_400_naming_the_field(client_for, world):
    response = client_for(world.viewer).post(f"{URL}read", {})
    assert response.status_code == 400 and b"ids:" in response.content


def test_the_bell_counts_unread_and_shows_the_latest(client_for, world):
    notify(world, "Deploy done", users=[world.viewer], link="/t/acme/executions/")
    notify(world, "Old news", users=[world.viewer])
    Notification.objects.filter(title="Old news").update(read_at="2024-01-01T00:00:00Z")
    response = client_for(world.viewer).get(f"{URL}bell")
    assert response.context["unread_count"] == 1
    page = response.content.decode()
    assert 'aria-label="Notifications: 1 unread"' in page and "Deploy done" in page and 'href="/t/acme/executions/"' in page


def test_unsafe_links_are_never_rendered_as_hrefs(client_for, world):
    n = notify(world, "Sneaky", users=[world.viewer])
    Notification.objects.filter(pk=n.pk).update(link="javascript:alert(1)")
    for url in (URL, f"{URL}bell"):
        assert "javascript:" not in client_for(world.viewer).get(url).content.decode()


def test_every_page_has_the_bell_and_the_live_socket(client_for, world):
    page = client_for(world.viewer).get("/t/acme/").content.decode()
    assert 'hx-get="/t/acme/notifications/bell"' in page and 'data-tenant-socket="/ws/t/acme/events/"' in page
    assert f'data-user-id="{world.viewer.pk}"' in page


def test_a_notification_for_everyone_is_read_by_each_member_for_themself(client_for, world):
    from circuits.tenancy.models.notifications import Notification

    Notification.objects.create(tenant=world.tenant, title="Maintenance tonight")
    client_for(world.editor).post("/t/acme/notifications/read", {"all": "1"})
    assert client_for(world.editor).get("/t/acme/notifications/", {"unread": "1"}).context["unread_count"] == 0
    assert client_for(world.viewer).get("/t/acme/notifications/", {"unread": "1"}).context["unread_count"] == 1
