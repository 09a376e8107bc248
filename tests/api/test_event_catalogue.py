"""Event names outside the catalogue are refused where they are typed, naming the close matches.

Before: `POST /api/v1/events/publish {"event": "no.such.event"}` answered 201 with no
executions and a trigger on `totally.unknown` saved, so a typo never fired and nobody was told.
Now publishing (API, Events page) and saving a trigger (API, builder panel, import, the
SaveTrigger service) refuse a name that is neither built in, a record event of one of the
tenant's object types, nor one of the tenant's own custom events — and nothing is half-saved.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.trigger import Event, Trigger
from circuits.automation.services.tenant_settings import DefineCustomEvent
from circuits.automation.services.versions import FORMAT, ImportCircuit, SaveTrigger
from circuits.records.service import DefineObjectType
from tests.api.access import assert_problem
from tests.api.helpers import client_as, simple_circuit
from tests.builder.helpers import flow


@pytest.fixture
def operator(world):
    return client_as(world, "operator")


@pytest.fixture
def editor(world):
    return client_as(world, "editor")


def test_publishing_a_misspelt_event_is_a_400_naming_the_close_matches_and_records_nothing(world, operator):
    body = assert_problem(operator.post("/api/v1/events/publish", {"event": "lead.craeted", "data": {}}), 400)
    message = body["errors"]["event"][0]
    assert "'lead.craeted' is not in the event catalogue" in message
    assert "'lead.created'" in message
    assert not Event.objects.exists()


def test_a_name_with_nothing_close_is_refused_without_suggestions(world, operator):
    message = assert_problem(operator.post("/api/v1/events/publish", {"event": "no.such.event"}), 400)["errors"]["event"][0]
    assert "'no.such.event' is not in the event catalogue" in message and "Did you mean" not in message
    assert "custom event" in message


def test_a_custom_event_defined_through_the_api_can_then_be_published_and_triggered_on(world, operator):
    assert operator.post("/api/v1/events/publish", {"event": "deal.escalated"}).status_code == 400
    admin = client_as(world, "admin")
    defined = admin.post("/api/v1/events/custom", {"name": "deal.escalated", "description": "A deal needs a manager."})
    assert defined.status_code == 201, defined.content
    assert defined.json() == {"name": "deal.escalated", "description": "A deal needs a manager.", "builtin": False}
    assert {"name": "deal.escalated", "description": "A deal needs a manager.", "builtin": False} in operator.get("/api/v1/events").json()

    simple_circuit(world, "escalations", triggers=[{"type": "event", "config": {"event": "deal.escalated"}}])
    published = operator.post("/api/v1/events/publish", {"event": "deal.escalated", "data": {"deal": 7}})
    assert published.status_code == 201, published.content
    assert [e["circuit"] for e in published.json()["executions"]] == ["escalations"]


def test_a_bad_or_repeated_custom_event_name_is_refused_by_name(world):
    admin = client_as(world, "admin")
    assert "lowercase words" in assert_problem(admin.post("/api/v1/events/custom", {"name": "Deal Escalated"}), 400)["errors"]["name"][0]
    assert "built-in" in assert_problem(admin.post("/api/v1/events/custom", {"name": "lead.created"}), 400)["errors"]["name"][0]
    assert admin.post("/api/v1/events/custom", {"name": "deal.escalated"}).status_code == 201
    assert "already" in assert_problem(admin.post("/api/v1/events/custom", {"name": "deal.escalated"}), 400)["errors"]["name"][0]


def test_another_tenants_custom_event_is_not_in_this_tenants_catalogue(world, operator):
    DefineCustomEvent(world.other_tenant, world.outsider, name="deal.escalated").execute()
    assert_problem(operator.post("/api/v1/events/publish", {"event": "deal.escalated"}), 400)
    assert not any(e["name"] == "deal.escalated" for e in operator.get("/api/v1/events").json())


def test_record_events_of_the_tenants_own_object_types_are_in_the_catalogue(world, operator):
    fields = [{"name": "title", "type": "string", "required": True}]
    DefineObjectType(world.tenant, world.owner, "project", "Project", fields).execute()
    names = {e["name"] for e in operator.get("/api/v1/events").json()}
    assert {"project.created", "project.updated", "project.deleted", "task.deleted"} <= names
    assert operator.post("/api/v1/events/publish", {"event": "project.created"}).status_code == 201
    # A near miss of a tenant's type is named too.
    message = assert_problem(operator.post("/api/v1/events/publish", {"event": "project.craeted"}), 400)["errors"]["event"][0]
    assert "'project.created'" in message


def test_saving_an_api_trigger_on_an_unknown_event_is_a_400_and_saves_nothing(world, editor):
    simple_circuit(world, "listener")
    body = assert_problem(editor.post("/api/v1/circuits/listener/triggers", {"type": "event", "config": {"event": "invoice.payed"}}), 400)
    assert "'invoice.paid'" in str(body["errors"])
    assert not Trigger.objects.filter(circuit__slug="listener").exists()
    ok = editor.post("/api/v1/circuits/listener/triggers", {"type": "event", "config": {"event": "invoice.paid"}})
    assert ok.status_code == 201, ok.content


def test_changing_a_saved_trigger_to_an_unknown_event_is_refused_and_keeps_the_old_name(world, editor):
    circuit = simple_circuit(world, "listener", triggers=[{"type": "event", "config": {"event": "invoice.paid"}}])
    trigger = circuit.triggers.get()
    response = editor.patch(f"/api/v1/circuits/listener/triggers/{trigger.pk}", {"config": {"event": "totally.unknown"}})
    assert_problem(response, 400)
    trigger.refresh_from_db()
    assert (trigger.config, trigger.key) == ({"event": "invoice.paid"}, "invoice.paid")


def test_the_save_trigger_service_refuses_an_unknown_event_for_every_caller(world):
    circuit = simple_circuit(world, "listener")
    with pytest.raises(ValidationError) as refused:
        SaveTrigger(world.tenant, world.editor, circuit, type="event", config={"event": "totally.unknown"}).execute()
    assert "totally.unknown" in str(refused.value.message_dict["config"])
    assert not circuit.triggers.exists()


def test_the_builder_trigger_panel_refuses_an_unknown_event_with_the_close_match(world, client_for):
    circuit = flow(world)
    response = client_for(world.editor).post("/t/acme/circuits/flow/edit/trigger-form", {"type": "event", "c.event": "lead.craeted", "enabled": "on"})
    assert response.status_code == 400
    assert b"lead.craeted" in response.content and b"lead.created" in response.content
    assert not circuit.triggers.exists()


def test_importing_a_circuit_whose_trigger_names_an_unknown_event_is_refused_whole(world):
    document = {
        "format": FORMAT,
        "name": "Imported",
        "slug": "imported",
        "triggers": [{"type": "event", "config": {"event": "lead.craeted"}}],
        "nodes": [{"key": "a", "action": "util.log", "config": {"message": "x"}}],
        "edges": [{"source": "trigger", "target": "a"}],
    }
    with pytest.raises(ValidationError) as refused:
        ImportCircuit(world.tenant, world.editor, document).execute()
    assert "lead.created" in str(refused.value)
    assert not Circuit.objects.filter(slug="imported").exists()


def test_the_events_page_refuses_to_publish_an_unknown_event_on_the_form(world, client_for):
    response = client_for(world.operator).post("/t/acme/events/", {"name": "lead.craeted", "payload": "{}"})
    assert response.status_code == 400
    assert b"not in the event catalogue" in response.content and b"lead.created" in response.content
    assert not Event.objects.exists()
