"""Events log: published events with the executions they started, and publishing a test event."""

from __future__ import annotations

import pytest

from circuits.automation.models.execution import Execution
from circuits.automation.models.trigger import CustomEventType, Event
from circuits.automation.triggers.catalogue import catalogue
from circuits.automation.triggers.kinds.event import publish_event
from tests.access import Page, TenantAccessSuite
from tests.engine.helpers import build, chain, node

pytestmark = pytest.mark.django_db
URL = "/t/acme/events/"


def on_event(world, slug: str, name: str):
    return build(
        world, slug, [node("out", "util.transform", {"template": "{{ trigger }}"})], chain("out"), triggers=[{"type": "event", "config": {"event": name}}]
    )


def test_the_log_lists_events_with_the_executions_each_started(client_for, world):
    on_event(world, "welcome", "lead.created")
    event, started = publish_event(world.tenant, "lead.created", {"email": "ada@example.test"}, source="record:lead:1")
    quiet, _ = publish_event(world.tenant, "invoice.paid", {"amount": 5})
    publish_event(world.other_tenant, "lead.created", {"email": "theirs@example.test"})
    response = client_for(world.viewer).get(URL)
    items = {item["event"].pk: item for item in response.context["items"]}
    assert set(items) == {event.pk, quiet.pk}
    assert [e.pk for e in items[event.pk]["executions"]] == [started[0].pk] and items[quiet.pk]["executions"] == []
    page = response.content.decode()
    assert f'href="/t/acme/executions/{started[0].pk}/"' in page and "record:lead:1" in page and "theirs@example.test" not in page


def test_the_log_filters_by_name_and_source(client_for, world):
    a, _ = publish_event(world.tenant, "lead.created", {}, source="api")
    b, _ = publish_event(world.tenant, "invoice.paid", {}, source="record:invoice:2")
    client = client_for(world.viewer)
    assert [i["event"].pk for i in client.get(URL, {"name": "lead.created"}).context["items"]] == [a.pk]
    assert [i["event"].pk for i in client.get(URL, {"source": "INVOICE"}).context["items"]] == [b.pk]


def test_the_event_query_count_does_not_grow_with_events(client_for, world, django_assert_max_num_queries):
    on_event(world, "welcome", "lead.created")
    for i in range(30):
        publish_event(world.tenant, "lead.created", {"i": i})
    client = client_for(world.viewer)
    client.get(URL)
    with django_assert_max_num_queries(12):
        response = client.get(URL)
    assert len(response.context["items"]) == 30


def test_operators_publish_a_test_event_that_starts_matching_circuits(client_for, world):
    on_event(world, "welcome", "lead.created")
    response = client_for(world.operator).post(URL, {"name": "lead.created", "payload": '{"email": "ada@example.test"}'}, follow=True)
    event = Event.objects.get(tenant=world.tenant)
    assert event.payload == {"email": "ada@example.test"} and event.source == "test:operator-a"
    execution = Execution.objects.get(event=event)
    assert execution.input == {"email": "ada@example.test"}
    assert "it started 1 execution." in response.content.decode()


def test_bad_event_input_is_a_400_naming_the_field_and_publishes_nothing(client_for, world):
    client = client_for(world.operator)
    response = client.post(URL, {"name": "lead.created", "payload": "{not json"})
    assert response.status_code == 400 and "Not valid JSON" in response.content.decode() and 'id="id_payload-error"' in response.content.decode()
    response = client.post(URL, {"name": "lead.created", "payload": "[1, 2]"})
    assert response.status_code == 400 and "Give a JSON object" in response.content.decode()
    response = client.post(URL, {"name": "has spaces", "payload": "{}"})
    assert response.status_code == 400 and 'id="id_name-error"' in response.content.decode()
    assert not Event.objects.exists()


def test_the_payload_size_follows_the_tenants_limit(client_for, world):
    world.tenant.limits = {"max_payload_bytes": 50}
    world.tenant.save()
    response = client_for(world.operator).post(URL, {"name": "lead.created", "payload": '{"text": "' + "x" * 100 + '"}'})
    assert response.status_code == 400 and "larger than 50 bytes" in response.content.decode()


def test_the_publish_form_offers_the_catalogue_and_is_hidden_from_viewers(client_for, world):
    page = client_for(world.operator).get(URL).content.decode()
    assert '<datalist id="event-names">' in page and '<option value="lead.created">' in page and "Publish a test event" in page
    assert "Publish a test event" not in client_for(world.viewer).get(URL).content.decode()
    assert client_for(world.viewer).post(URL, {"name": "lead.created"}).status_code == 403


class TestCustomEventAccess(TenantAccessSuite):
    pages = [
        Page(
            "define-custom-event",
            lambda w: f"/t/{w.tenant.slug}/events/custom",
            perm="manage_settings",
            method="post",
            data=lambda w: {"name": f"deal.escalated{CustomEventType.objects.count()}".replace("escalated0", "escalated")},
        )
    ]


def test_an_admin_adds_a_custom_event_that_circuits_can_trigger_on(client_for, world):
    response = client_for(world.admin).post("/t/acme/events/custom", {"name": "deal.escalated", "description": "A deal needs a manager"})
    assert response.status_code == 302
    assert any(e["name"] == "deal.escalated" and not e["builtin"] for e in catalogue(world.tenant))
    assert not any(e["name"] == "deal.escalated" for e in catalogue(world.other_tenant))
    circuit = build(
        world, "escalations", [node("x", "util.log", {"message": "escalated"})], chain("x"), triggers=[{"type": "event", "config": {"event": "deal.escalated"}}]
    )
    assert [e.circuit for e in publish_event(world.tenant, "deal.escalated", {})[1]] == [circuit]


@pytest.mark.parametrize(("name", "message"), [("Deal Escalated", "lowercase words"), ("lead.created", "built-in"), ("nodots", "lowercase words")])
def test_bad_custom_event_names_are_refused(client_for, world, name, message):
    response = client_for(world.admin).post("/t/acme/events/custom", {"name": name})
    assert response.status_code == 400 and message in response.content.decode()
    assert not CustomEventType.objects.exists()
