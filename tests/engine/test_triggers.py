"""Triggers: events (tenant-scoped), webhooks, schedules, chaining."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.models.trigger import Trigger
from circuits.automation.services.versions import SaveTrigger
from circuits.automation.triggers.kinds.event import publish_event
from circuits.automation.triggers.kinds.schedule import fire_due
from circuits.tenancy.credentials import save_credential
from circuits.web.webhooks import signature_for
from tests.engine.helpers import build, chain, node


def _simple(world, slug, triggers, template="{{ trigger }}"):
    return build(world, slug, [node("out", "util.transform", {"template": template})], chain("out"), triggers=triggers)


@pytest.mark.django_db
def test_an_event_starts_one_execution_per_matching_trigger_of_that_tenant_only(world, django_capture_on_commit_callbacks):
    a = _simple(world, "on-lead", [{"type": "event", "config": {"event": "lead.created"}}])
    _simple(world, "on-other", [{"type": "event", "config": {"event": "invoice.paid"}}])
    with django_capture_on_commit_callbacks():
        event, started = publish_event(world.tenant, "lead.created", {"email": "a@b.c"})
    assert [e.circuit for e in started] == [a]
    assert started[0].event == event and started[0].input == {"email": "a@b.c"}
    # The same event name in another tenant starts nothing here.
    with django_capture_on_commit_callbacks():
        _event, other = publish_event(world.other_tenant, "lead.created", {"email": "x@y.z"})
    assert other == []
    assert Execution.objects.filter(tenant=world.other_tenant).count() == 0


@pytest.mark.django_db
def test_event_trigger_condition_filters_the_payload(world):
    _simple(world, "big-deals", [{"type": "event", "config": {"event": "invoice.paid", "condition": "event.amount > 1000"}}])
    assert publish_event(world.tenant, "invoice.paid", {"amount": 50})[1] == []
    assert len(publish_event(world.tenant, "invoice.paid", {"amount": 5000})[1]) == 1


@pytest.mark.django_db
def test_disabled_circuits_and_triggers_do_not_fire(world):
    circuit = _simple(world, "off", [{"type": "event", "config": {"event": "form.submitted"}}])
    circuit.enabled = False
    circuit.save()
    assert publish_event(world.tenant, "form.submitted", {})[1] == []
    circuit.enabled = True
    circuit.save()
    Trigger.objects.filter(circuit=circuit).update(enabled=False)
    assert publish_event(world.tenant, "form.submitted", {})[1] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("type_", "config", "message"),
    [
        ("event", {}, "'event' is a required property"),
        ("schedule", {"cron": "every tuesday"}, "not a valid cron"),
        ("schedule", {"cron": "* * * * *", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ("webhook", {"auth": "hmac"}, "HMAC authentication needs"),
        ("threshold", {"object_type": "lead", "field": "score"}, "'value' is a required property"),
        ("nonsense", {}, "unknown trigger type"),
        ("event", {"event": "x", "condition": "event.__class__"}, "not allowed"),
    ],
)
def test_bad_trigger_configs_are_refused_naming_the_problem(world, type_, config, message):
    circuit = _simple(world, "bad-trigger", [])
    with pytest.raises(ValidationError, match=message):
        SaveTrigger(world.tenant, world.owner, circuit, type=type_, config=config).execute()
    assert not circuit.triggers.exists()


@pytest.mark.django_db
def test_webhook_answers_at_once_with_the_execution_id(client, world, django_capture_on_commit_callbacks):
    circuit = _simple(world, "hook", [{"type": "webhook", "config": {}}])
    token = circuit.triggers.get().webhook_token
    response = client.post(f"/hooks/{token}", {"name": "x"}, content_type="application/json")
    assert response.status_code == 202
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert execution.input["body"] == {"name": "x"} and execution.trigger_type == "webhook"


# A webhook that waits for the output needs a worker: tests/http/test_waiting_callers.py.


@pytest.mark.django_db
def test_webhook_accepts_form_bodies(client, world):
    circuit = _simple(world, "form-hook", [{"type": "webhook"}], template="{{ trigger.body.email }}")
    token = circuit.triggers.get().webhook_token
    response = client.post(f"/hooks/{token}", {"email": "f@example.test"})
    assert response.status_code == 202
    assert Execution.objects.get(pk=response.json()["execution_id"]).input["body"] == {"email": "f@example.test"}


@pytest.mark.django_db
def test_webhook_hmac_signature_is_required_and_checked(client, world):
    save_credential(world.tenant, "hook-secret", "webhook_secret", {"secret": "s3cret"})
    circuit = _simple(world, "signed", [{"type": "webhook", "config": {"auth": "hmac", "secret_credential": "hook-secret"}}])
    token = circuit.triggers.get().webhook_token
    body = json.dumps({"a": 1}).encode()
    stamp = str(int(time.time()))
    assert client.post(f"/hooks/{token}", body, content_type="application/json").status_code == 401
    bad = signature_for("wrong", stamp, body)
    headers = {"HTTP_X_CIRCUIT_TIMESTAMP": stamp}
    assert client.post(f"/hooks/{token}", body, content_type="application/json", HTTP_X_CIRCUIT_SIGNATURE=bad, **headers).status_code == 401
    good = signature_for("s3cret", stamp, body)
    assert good == "sha256=" + hmac.new(b"s3cret", f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert client.post(f"/hooks/{token}", body, content_type="application/json", HTTP_X_CIRCUIT_SIGNATURE=good, **headers).status_code == 202


@pytest.mark.django_db
def test_webhook_rejects_oversized_and_malformed_bodies_and_unknown_tokens(client, world):
    circuit = _simple(world, "small", [{"type": "webhook", "config": {"max_bytes": 100}}])
    token = circuit.triggers.get().webhook_token
    assert client.post(f"/hooks/{token}", {"x": "y" * 500}, content_type="application/json").status_code == 413
    response = client.post(f"/hooks/{token}", b"{not json", content_type="application/json")
    assert response.status_code == 400 and "Malformed JSON" in response.json()["detail"]
    assert client.post("/hooks/not-a-real-token", {}, content_type="application/json").status_code == 404
    assert client.get(f"/hooks/{token}").status_code == 405
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_schedule_fires_when_due_once_and_moves_to_the_next_time(world):
    circuit = _simple(world, "cron", [{"type": "schedule", "config": {"cron": "*/5 * * * *", "timezone": "Europe/Paris"}}])
    trigger = circuit.triggers.get()
    assert trigger.next_run_at > timezone.now()
    assert fire_due() == 0
    Trigger.objects.filter(pk=trigger.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    assert fire_due() == 1
    assert fire_due() == 0  # not twice
    trigger.refresh_from_db()
    assert trigger.next_run_at > timezone.now() and trigger.next_run_at.minute % 5 == 0
    execution = Execution.objects.get(circuit=circuit)
    assert "scheduled_for" in execution.input


@pytest.mark.django_db
def test_circuit_completed_chains_to_the_next_circuit(world, django_capture_on_commit_callbacks):
    from circuits.automation.engine.runner import run_now
    from tests.engine.helpers import run

    first = _simple(world, "first", [], template="first done")
    second = _simple(world, "second", [{"type": "circuit_completed", "config": {"circuit": "first", "on": "succeeded"}}], template="{{ trigger.output }}!")
    with django_capture_on_commit_callbacks():
        run(first)
    chained = Execution.objects.get(circuit=second)
    assert chained.input["circuit"] == "first" and chained.parent.circuit == first
    assert run_now(chained).output == "first done!"


@pytest.mark.django_db
def test_execution_failed_event_starts_listening_circuits(world):
    from tests.engine.helpers import run

    failing = build(world, "fails", [node("halt", "control.stop", {"status": "failed", "message": "boom"})], chain("halt"))
    watcher = _simple(world, "watcher", [{"type": "event", "config": {"event": "execution.failed"}}])
    run(failing)
    started = Execution.objects.get(circuit=watcher)
    assert started.input["error"]["message"] == "boom"
    assert started.status == ExecutionStatus.QUEUED
