"""Failure handling (#15): a failed execution notifies (in-app, e-mail, Slack) and/or starts an
error circuit with the failed execution as its payload, per circuit or by the tenant's default,
as one alert per digest window instead of a storm.

Before: six failed executions produced no notification, and there was no error circuit.
Everything goes through the real parts: the engine's signal, the task enqueued on commit (run
eagerly here), the database, the cache (Redis in CI), a local SMTP server and a local Slack.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from circuits.automation.failures import delivery, digest
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.services.circuits import UpdateCircuit
from circuits.automation.services.tenant_settings import UpdateTenantSettings
from circuits.tenancy.credentials import save_credential
from circuits.tenancy.models.notifications import Notification
from tests.engine.helpers import build, chain, node, run
from tests.fixtures import needs_redis

pytestmark = pytest.mark.django_db


def failing(world, slug: str = "flaky", message: str = "the CRM said no"):
    return build(world, slug, [node("call_crm", "control.stop", {"status": "failed", "message": message})], chain("call_crm"))


def fail(circuit, capture) -> Execution:
    """Run the circuit to its failure and let everything it enqueued on commit run."""
    with capture(execute=True):
        execution = run(circuit, {"lead": 7})
    assert execution.status == ExecutionStatus.FAILED
    return execution


@pytest.fixture
def capture(django_capture_on_commit_callbacks, eager):
    return django_capture_on_commit_callbacks


def alerts_for(world, execution) -> list[Notification]:
    return list(Notification.objects.filter(tenant=world.tenant, execution=execution).order_by("user_id"))


def test_a_failure_notifies_the_owner_and_the_admins_in_the_app_with_a_link_to_the_execution(world, capture):
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"notify": ["owner", "admins"]}).execute()
    execution = fail(circuit, capture)
    notes = alerts_for(world, execution)
    assert {n.user for n in notes} == {world.owner, world.admin}
    assert all(n.level == "error" and n.link == f"/t/acme/executions/{execution.pk}/" for n in notes)
    assert "the CRM said no" in notes[0].body and "call_crm" in notes[0].body


def test_a_failure_is_mailed_to_the_members_named_through_the_platforms_smtp_server(world, capture, smtp_server, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.SITE_URL = "https://circuits.acme.test"
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"emails": [world.editor.email, world.viewer.email.upper()]}).execute()
    execution = fail(circuit, capture)
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert sorted(mail.rcpt_tos) == sorted([world.editor.email, world.viewer.email])
    assert "Flaky failed" in mail.message["Subject"]
    body = mail.message.get_content()
    assert "the CRM said no" in body and f"https://circuits.acme.test/t/acme/executions/{execution.pk}/" in body


def test_a_failure_is_posted_to_slack_through_the_tenants_credential_and_the_outbound_guard(world, capture, slack):
    world.tenant.outbound_allowlist = [f"127.0.0.1:{slack.port}"]
    world.tenant.save()
    save_credential(world.tenant, "ops-alerts", "slack_webhook", {"url": slack.webhook_url})
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"slack": "ops-alerts"}).execute()
    execution = fail(circuit, capture)
    assert len(slack.received) == 1
    assert "Flaky failed" in slack.received[0]["text"] and f"#{execution.pk}" in slack.received[0]["text"]


def test_a_slack_alert_to_a_host_the_guard_refuses_is_logged_and_the_other_channels_still_go_out(world, capture, slack, caplog):
    save_credential(world.tenant, "ops-alerts", "slack_webhook", {"url": slack.webhook_url})  # valid when saved…
    world.tenant.outbound_allowlist = [f"127.0.0.1:{slack.port}"]
    world.tenant.save()
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"slack": "ops-alerts", "notify": ["owner"]}).execute()
    world.tenant.outbound_allowlist = []  # …then the allow-list no longer names it
    world.tenant.save()
    execution = fail(circuit, capture)
    assert slack.received == []
    assert [n.user for n in alerts_for(world, execution)] == [world.owner]
    assert "Slack alert" in caplog.text and "s3cr3tW3bh00kT0k3n" not in caplog.text  # the webhook URL is the secret


def test_the_error_circuit_starts_with_the_failed_execution_as_its_payload_and_caused_by(world, capture, settings):
    settings.SITE_URL = "https://circuits.acme.test"
    handler = build(world, "on-error", [node("note", "util.transform", {"template": "{{ trigger.circuit }} #{{ trigger.id }}"})], chain("note"))
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"error_circuit": "on-error"}).execute()
    failed = fail(circuit, capture)
    handled = Execution.objects.get(circuit=handler)
    assert handled.trigger_type == "error" and handled.caused_by_id == failed.pk and handled.chain_depth == failed.chain_depth + 1
    payload = handled.input
    assert payload["id"] == failed.pk and payload["circuit"] == "flaky" and payload["circuit_name"] == "Flaky"
    assert payload["error"]["message"] == "the CRM said no"
    assert payload["failed_step"]["node"] == "call_crm"
    assert payload["url"] == f"https://circuits.acme.test/t/acme/executions/{failed.pk}/"
    assert payload["input"] == {"lead": 7}
    assert handled.status == ExecutionStatus.SUCCEEDED and handled.output == f"flaky #{failed.pk}"  # it ran (eager worker)


def test_an_error_circuit_that_fails_never_starts_an_error_circuit_again(world, capture):
    handler = failing(world, "on-error", "the handler broke too")
    circuit = failing(world)
    policy = {"error_circuit": "on-error", "notify": ["owner"], "digest_minutes": 0}
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure=policy).execute()
    UpdateTenantSettings(world.tenant, world.owner, on_failure={"error_circuit": "flaky", "notify": ["owner"], "digest_minutes": 0}).execute()
    fail(circuit, capture)
    handler_runs = list(Execution.objects.filter(circuit=handler))
    assert len(handler_runs) == 1 and handler_runs[0].status == ExecutionStatus.FAILED
    assert Execution.objects.filter(circuit=circuit).count() == 1  # the handler's failure did not start "flaky" again
    assert alerts_for(world, handler_runs[0]), "the broken error handler is still alerted"


def test_a_circuit_named_as_the_tenant_default_error_circuit_does_not_start_itself(world, capture):
    handler = failing(world, "on-error")
    UpdateTenantSettings(world.tenant, world.owner, on_failure={"error_circuit": "on-error"}).execute()
    fail(handler, capture)
    assert Execution.objects.filter(circuit=handler).count() == 1


def test_failures_inside_the_digest_window_are_counted_and_the_next_alert_says_how_many(world, capture):
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"notify": ["owner"], "digest_minutes": 15}).execute()
    first = fail(circuit, capture)
    storm = [fail(circuit, capture) for _ in range(5)]
    assert len(alerts_for(world, first)) == 1
    assert not Notification.objects.filter(execution__in=storm).exists()  # a storm is not six alerts
    digest.close_window(circuit)  # fifteen minutes later
    after = fail(circuit, capture)
    [note] = alerts_for(world, after)
    assert "5 more failures of this circuit since" in note.body
    digest.close_window(circuit)
    [calm] = alerts_for(world, fail(circuit, capture))
    assert "more failure" not in calm.body  # the count was reported once


def test_when_the_window_ends_one_digest_alert_reports_the_counted_failures_and_a_quiet_one_sends_nothing(world, capture):
    from circuits.automation.tasks import flush_failure_digest

    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"notify": ["owner"], "digest_minutes": 15}).execute()
    fail(circuit, capture)
    storm = [fail(circuit, capture) for _ in range(3)]
    digest.close_window(circuit)  # the window's end, when its scheduled flush runs
    report = flush_failure_digest(world.tenant.pk, circuit.pk)
    assert report["digest"] == 3 and report["in_app"] == 1
    [note] = Notification.objects.filter(tenant=world.tenant, title="Flaky: 3 more failures")
    assert note.execution == storm[-1] and note.link == f"/t/acme/executions/{storm[-1].pk}/" and "3 more failures" in note.body
    digest.close_window(circuit)
    assert flush_failure_digest(world.tenant.pk, circuit.pk) == {"digest": 0}  # a quiet window: no alert…
    assert len(alerts_for(world, fail(circuit, capture))) == 1  # …and the next failure alerts at once


def test_digest_minutes_zero_alerts_every_failure(world, capture):
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"notify": ["owner"], "digest_minutes": 0}).execute()
    runs = [fail(circuit, capture) for _ in range(3)]
    assert Notification.objects.filter(execution__in=runs).count() == 3


def test_the_tenant_default_applies_until_a_circuit_overrides_it_and_an_empty_policy_silences_it(world, capture):
    UpdateTenantSettings(world.tenant, world.owner, on_failure={"notify": ["admins"], "digest_minutes": 0}).execute()
    circuit = failing(world)
    assert {n.user for n in alerts_for(world, fail(circuit, capture))} == {world.owner, world.admin}  # owner + admin roles
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"notify": ["editors"], "digest_minutes": 0}).execute()
    assert [n.user for n in alerts_for(world, fail(circuit, capture))] == [world.editor]
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={}).execute()
    assert alerts_for(world, fail(circuit, capture)) == []
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure=None).execute()  # back to the default
    assert len(alerts_for(world, fail(circuit, capture))) == 2


def test_test_runs_and_successes_alert_nobody(world, capture):
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"notify": ["owner"], "digest_minutes": 0}).execute()
    ok = build(world, "fine", [node("t", "util.transform", {"template": "x"})], chain("t"))
    UpdateCircuit(world.tenant, world.owner, ok, on_failure={"notify": ["owner"], "digest_minutes": 0}).execute()
    with capture(execute=True):
        test_run = run(circuit, {}, is_test=True)
        success = run(ok, {})
    assert test_run.status == ExecutionStatus.FAILED and success.status == ExecutionStatus.SUCCEEDED
    assert not Notification.objects.filter(tenant=world.tenant).exists()


def test_a_redelivered_task_does_not_alert_twice(world, capture):
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"notify": ["owner"], "digest_minutes": 0}).execute()
    execution = fail(circuit, capture)
    assert delivery.deliver(execution.pk) == {"skipped": "delivered already"}
    assert len(alerts_for(world, execution)) == 1


def test_a_member_who_left_is_not_alerted_any_more(world, capture):
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"notify": ["editor-a"], "emails": [world.editor.email], "digest_minutes": 0}).execute()
    world.tenant.memberships.filter(user=world.editor).delete()
    execution = fail(circuit, capture)
    assert alerts_for(world, execution) == []
    assert mail.outbox == []  # the address was a member's when saved; it is no longer


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        ({"notify": ["nobody-here"]}, "notify: nobody-here is not a member"),
        ({"notify": "owner, outsider"}, "notify: outsider is not a member"),
        ({"notify": [3]}, "notify: a list of"),
        ({"emails": ["outsider@example.test"]}, "emails: outsider@example.test is not the address of a member"),
        ({"emails": ["not-an-address"]}, "emails: 'not-an-address' is not an e-mail address"),
        ({"slack": "nope"}, "slack: no credential named 'nope'"),
        ({"slack": "crm-token"}, "slack: credential 'crm-token' is a http_bearer"),
        ({"error_circuit": "missing"}, "error_circuit: no circuit 'missing'"),
        ({"error_circuit": "flaky"}, "error_circuit: a circuit cannot be its own error circuit"),
        ({"digest_minutes": -1}, "digest_minutes:"),
        ({"digest_minutes": 100_000}, "digest_minutes:"),
        ({"digest_minutes": "soon"}, "digest_minutes:"),
        ({"sms": "+1"}, "sms: unknown setting"),
        ("notify everyone", "An object"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field_and_nothing_is_saved(world, policy, named):
    save_credential(world.tenant, "crm-token", "http_bearer", {"token": "t"})
    circuit = failing(world)
    with pytest.raises(ValidationError) as caught:
        UpdateCircuit(world.tenant, world.owner, circuit, on_failure=policy, description="changed").execute()
    messages = caught.value.message_dict["on_failure"]
    assert any(named in m for m in messages), messages
    circuit.refresh_from_db()
    assert circuit.on_failure is None and circuit.description == ""


def test_another_tenants_member_credential_and_circuit_are_not_found_here(world):
    other = world.other_tenant
    save_credential(other, "their-slack", "slack_webhook", {"url": "https://hooks.slack.com/services/T/B/x"})
    build(world, "theirs-probe", [node("t", "util.transform", {"template": "x"})], chain("t"))  # ours, for contrast
    from circuits.automation.services.circuits import CreateCircuit

    CreateCircuit(other, world.outsider, name="Their handler", slug="their-handler").execute()
    policy = {"notify": ["outsider"], "emails": [world.outsider.email], "slack": "their-slack", "error_circuit": "their-handler"}
    with pytest.raises(ValidationError) as caught:
        UpdateTenantSettings(world.tenant, world.owner, on_failure=policy).execute()
    messages = " | ".join(caught.value.message_dict["on_failure"])
    for part in ("notify: outsider is not a member", "emails: outsider@example.test", "slack: no credential named 'their-slack'", "error_circuit: no circuit"):
        assert part in messages
    world.tenant.refresh_from_db()
    assert world.tenant.on_failure == {}


def test_only_editors_change_a_circuits_policy_and_only_admins_the_tenant_default(world):
    from django.core.exceptions import PermissionDenied

    circuit = failing(world)
    with pytest.raises(PermissionDenied):
        UpdateCircuit(world.tenant, world.operator, circuit, on_failure={"notify": ["owner"]}).execute()
    UpdateCircuit(world.tenant, world.editor, circuit, on_failure={"notify": ["owner"]}).execute()
    with pytest.raises(PermissionDenied):
        UpdateTenantSettings(world.tenant, world.editor, on_failure={"notify": ["owner"]}).execute()


@needs_redis()
def test_opening_a_window_queues_its_flush_for_the_windows_end_on_the_broker(world, settings):
    import json
    from datetime import datetime

    import redis
    from django.utils import timezone

    from tests.engine.workers import new_queue

    settings.CELERY_TASK_DEFAULT_QUEUE = queue = new_queue()
    circuit = failing(world)
    UpdateCircuit(world.tenant, world.owner, circuit, on_failure={"notify": ["owner"], "digest_minutes": 20}).execute()
    execution = run(circuit)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        before = timezone.now()
        delivery.deliver(execution.pk)
        messages = [json.loads(m) for m in broker.lrange(queue, 0, -1)]
    finally:
        broker.delete(queue)
    [flush] = [m for m in messages if m["headers"]["task"] == "circuits.automation.tasks.flush_failure_digest"]
    eta = datetime.fromisoformat(flush["headers"]["eta"])
    assert 20 * 60 <= (eta - before).total_seconds() < 20 * 60 + 30
