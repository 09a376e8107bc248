"""Delivering one failed execution's policy: the error circuit, then the alerts (in-app, e-mail, Slack).

Runs in the Celery task `deliver_failure_alerts` (circuits/automation/tasks.py), enqueued once
the failure is committed. Each channel is tried on its own: one that fails (an SMTP server
down, a Slack webhook answering 404, a credential deleted since) is logged and the others
still go out; nothing here ever raises into the engine or the worker.

Loops: an execution started as an error circuit (trigger_type "error"), or a sub-circuit run
under one, never starts an error circuit — its failure is still alerted, since the error
handler itself broke. Chains through side effects stay bounded by ENGINE_MAX_CHAIN_DEPTH,
since the error run is `caused_by` the failed one.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse

from actions.notify.slack import post_to_webhook
from actions.sdk import ActionError
from circuits.automation.dispatch import NotRunnable, create_execution, enqueue
from circuits.automation.failures import digest
from circuits.automation.failures.policy import Policy, policy_for
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun, StepStatus
from circuits.automation.notifications import create_notifications, resolve_members
from circuits.tenancy.credentials import read_credential
from circuits.tenancy.models.access import CredentialKind
from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.tenancy.roles import Role

log = logging.getLogger(__name__)

ERROR_TRIGGER = "error"  # trigger_type of an execution started as an error circuit
DELIVERED_TTL = 7 * 24 * 3600  # a re-delivered task message finds the mark and does nothing
MAX_PARENTS = 64
EMAIL_TIMEOUT = 30


def is_error_run(execution: Execution) -> bool:
    """Started as an error circuit, or a sub-circuit run under one."""
    current: Execution | None = execution
    for _ in range(MAX_PARENTS):
        if current is None:
            return False
        if current.trigger_type == ERROR_TRIGGER:
            return True
        if current.parent_id is None:
            return False
        current = Execution.objects.filter(pk=current.parent_id, tenant_id=execution.tenant_id).only("pk", "trigger_type", "parent_id").first()
    return True  # deeper than any sub-circuit limit: treat as a loop


def execution_path(execution: Execution) -> str:
    return reverse("execution_detail", kwargs={"tenant_slug": execution.tenant.slug, "pk": execution.pk})


def execution_url(execution: Execution) -> str:
    """Absolute when SITE_URL is configured (mail and Slack leave the site), else the path."""
    return f"{(getattr(settings, 'SITE_URL', '') or '').rstrip('/')}{execution_path(execution)}"


def failed_step(execution: Execution) -> dict | None:
    steps = StepRun.objects.filter(execution=execution).order_by("-pk")
    node = (execution.error or {}).get("node")
    step = steps.filter(status=StepStatus.FAILED).first()
    if step is None and node:
        step = steps.filter(node_key=node).first()
    if step is None and (execution.error or {}).get("type") == "stop":
        step = steps.first()  # a Stop-as-failed step ends the run without failing itself
    if step is None and not node:
        return None
    error = (step.error if step is not None else None) or {}
    return {
        "node": step.node_key if step is not None else node,
        "action": step.action if step is not None else "",
        "attempt": step.attempt if step is not None else None,
        "message": error.get("message") or (execution.error or {}).get("message", ""),
        "type": error.get("type", ""),
    }


def error_payload(execution: Execution) -> dict[str, Any]:
    """What the error circuit gets as its trigger: the failed execution, in the shape n8n's Error Trigger uses."""
    circuit = execution.circuit
    return {
        "id": execution.pk,
        "url": execution_url(execution),
        "circuit": circuit.slug,
        "circuit_name": circuit.name,
        "version": execution.version.number,
        "trigger_type": execution.trigger_type,
        "error": execution.error or {},
        "failed_step": failed_step(execution),
        "input": execution.input,
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
        "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
        "retry_of": execution.rerun_of_id,
    }


def start_error_circuit(execution: Execution, slug: str) -> Execution | None:
    target = Circuit.objects.for_tenant(execution.tenant).filter(slug=slug).first()
    if target is None:
        log.warning("error circuit %r of circuit %s is gone; execution %s starts nothing", slug, execution.circuit.slug, execution.pk)
        return None
    if target.pk == execution.circuit_id:
        return None
    try:
        with transaction.atomic():
            run = create_execution(target, error_payload(execution), trigger_type=ERROR_TRIGGER, caused_by=execution)
            enqueue(run)
    except NotRunnable as exc:
        log.warning("error circuit %r not started for execution %s: %s", slug, execution.pk, exc)
        return None
    return run


def in_app_recipients(circuit: Circuit, names: tuple[str, ...]) -> list[Any]:
    """The members the policy names, today: groups and usernames resolved through memberships."""
    tenant = circuit.tenant
    members = Membership.objects.for_tenant(tenant)
    wanted: list[int] = []
    owner_id = circuit.owner_id
    if "owner" in names and owner_id and members.filter(user_id=owner_id).exists():
        wanted.append(owner_id)
    roles = ([Role.OWNER, Role.ADMIN] if "admins" in names else []) + ([Role.EDITOR] if "editors" in names else [])
    if roles:
        wanted += list(members.filter(role__in=roles).order_by("user_id").values_list("user_id", flat=True))
    named, _ = resolve_members(tenant, [n for n in names if n not in ("owner", "admins", "editors")])
    wanted += [u.pk for u in named]
    by_pk = get_user_model().objects.in_bulk(list(dict.fromkeys(wanted)))
    return [by_pk[pk] for pk in dict.fromkeys(wanted) if pk in by_pk]


def _what_failed(execution: Execution) -> str:
    circuit = execution.circuit
    step = failed_step(execution)
    message = (execution.error or {}).get("message") or "no error message"
    where = f" at step {step['node']}" if step and step.get("node") else ""
    return f"Execution #{execution.pk} of {circuit.name!r} ({circuit.slug}) failed{where}: {message}"


def _counted(alert: digest.Alert, policy: Policy) -> str:
    since = f" since {alert.since:%Y-%m-%d %H:%M} UTC" if alert.since else ""
    return (
        f"{alert.suppressed} more {'failure' if alert.suppressed == 1 else 'failures'} of this circuit{since} "
        f"were counted without an alert of their own (digest window: {policy.digest_minutes} min)."
    )


def _message(execution: Execution, policy: Policy, alert: digest.Alert) -> tuple[str, str]:
    lines = [_what_failed(execution)]
    if alert.suppressed:
        lines.append(_counted(alert, policy))
    lines.append(execution_url(execution))
    return f"{execution.circuit.name} failed", "\n".join(lines)


def _digest_message(circuit: Circuit, latest: Execution | None, policy: Policy, alert: digest.Alert) -> tuple[str, str]:
    noun = "failure" if alert.suppressed == 1 else "failures"
    lines = [_counted(alert, policy)]
    if latest is not None:
        lines += [f"The latest: {_what_failed(latest)}", execution_url(latest)]
    return f"{circuit.name}: {alert.suppressed} more {noun}", "\n".join(lines)


def _send_email(tenant: Tenant, addresses: tuple[str, ...], title: str, body: str) -> int:
    users, missing = resolve_members(tenant, list(addresses))
    if missing:
        log.warning("a failure e-mail of tenant %s skips %d address(es) that are no longer members", tenant.pk, len(missing))
    to = [u.email for u in users if u.email]
    if not to:
        return 0
    connection = get_connection(timeout=EMAIL_TIMEOUT)
    subject = f"[Circuit OS · {tenant.name}] {title}"
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, to, connection=connection).send()


def _post_slack(tenant: Tenant, name: str, title: str, body: str) -> None:
    url = str(read_credential(tenant, name, CredentialKind.SLACK_WEBHOOK).get("url") or "").strip()
    if not url:
        raise ActionError(f"credential {name!r}: the webhook URL is missing")
    post_to_webhook(tenant, url, {"text": f":rotating_light: *{title}*\n{body}"}, name=name)


def deliver(execution_id: int) -> dict[str, Any]:
    """Apply the failed execution's policy once; what happened per channel (for logs and tests)."""
    found = Execution.objects.filter(pk=execution_id).values_list("tenant_id", flat=True).first()
    tenant = Tenant.objects.filter(pk=found).first() if found is not None else None
    if tenant is None:
        return {"skipped": "gone"}
    execution = (
        Execution.objects.for_tenant(tenant)
        .select_related("circuit", "circuit__tenant", "version", "tenant")
        .filter(pk=execution_id, status=ExecutionStatus.FAILED, is_test=False)
        .first()
    )
    if execution is None:
        return {"skipped": "not a failed execution"}
    policy = policy_for(execution.circuit)
    if not policy.alerts and not policy.error_circuit:
        return {"skipped": "no policy"}
    # With the creation time: ids start again at 1 in a new database, the cache would remember old ones.
    if not cache.add(f"circuitos:failure-delivered:{execution.pk}:{execution.created_at.timestamp():.6f}", 1, timeout=DELIVERED_TTL):
        return {"skipped": "delivered already"}
    report: dict[str, Any] = {"policy": policy.source}

    if policy.error_circuit:
        if is_error_run(execution):
            report["error_circuit"] = "skipped: this run is itself an error circuit's"
        else:
            try:
                run = start_error_circuit(execution, policy.error_circuit)
                report["error_circuit"] = run.pk if run is not None else "not started"
            except Exception:
                log.exception("starting the error circuit of execution %s failed", execution.pk)
                report["error_circuit"] = "failed"

    if not policy.alerts:
        return report
    alert = digest.admit(execution.circuit, policy.digest_minutes, execution.pk)
    if alert is None:
        report["digest"] = "counted"
        return report
    report["digest"] = alert.suppressed
    if alert.opened:
        _schedule_flush(execution.tenant_id, execution.circuit_id, policy.digest_minutes)
    title, body = _message(execution, policy, alert)
    _alert(execution, policy, title, body, report)
    log.info("failure of execution %s delivered: %s", execution.pk, report)
    return report


# The digest's flush task (circuits/automation/tasks.py), found by name: tasks sit above this layer.
FLUSH_DIGEST_TASK = "circuits.automation.tasks.flush_failure_digest"


FLUSH_GRACE_SECONDS = 2  # the window's cache key has surely expired when its flush runs


def _schedule_flush(tenant_id: int, circuit_id: int, minutes: int) -> None:
    # A copy redelivered by the broker (a countdown past CELERY_VISIBILITY_TIMEOUT) finds the
    # next window open or nothing counted, and sends nothing: flushing is safe to repeat.
    countdown = minutes * 60 + FLUSH_GRACE_SECONDS
    try:
        current_app.tasks[FLUSH_DIGEST_TASK].apply_async((tenant_id, circuit_id), countdown=countdown)
    except Exception:  # the counted failures then go out with the next failure's alert
        log.exception("could not schedule the failure digest of circuit %s", circuit_id)


def deliver_digest(tenant_id: int, circuit_id: int) -> dict[str, Any]:
    """A digest window ended: one alert for the failures it counted (nothing when there were none)."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    circuit = Circuit.objects.for_tenant(tenant).select_related("tenant").filter(pk=circuit_id).first() if tenant is not None else None
    if circuit is None:
        return {"skipped": "gone"}
    policy = policy_for(circuit)
    if not policy.alerts:
        return {"skipped": "no policy"}
    alert = digest.flush(circuit, policy.digest_minutes)
    if alert is None:
        return {"digest": 0}
    _schedule_flush(tenant_id, circuit_id, policy.digest_minutes)  # the next window is open: it gets its flush too
    latest = None
    if alert.latest is not None:
        latest = Execution.objects.for_tenant(tenant).select_related("circuit", "version", "tenant").filter(pk=alert.latest).first()
    report: dict[str, Any] = {"policy": policy.source, "digest": alert.suppressed}
    title, body = _digest_message(circuit, latest, policy, alert)
    _alert(latest, policy, title, body, report, circuit=circuit)
    log.info("failure digest of circuit %s delivered: %s", circuit_id, report)
    return report


def _alert(execution: Execution | None, policy: Policy, title: str, body: str, report: dict, *, circuit: Circuit | None = None) -> None:
    """Each channel on its own: one that fails is logged and the others still go out."""
    circuit = circuit or execution.circuit
    tenant = circuit.tenant
    label = f"execution {execution.pk}" if execution is not None else f"circuit {circuit.pk}'s digest"
    if policy.notify:
        try:
            users = in_app_recipients(circuit, policy.notify)
            if users:
                link = execution_path(execution) if execution is not None else ""
                create_notifications(tenant, title=title, body=body, level="error", link=link, users=users, execution=execution)
            report["in_app"] = len(users)
        except Exception:
            log.exception("in-app failure notification of %s failed", label)
            report["in_app"] = "failed"
    if policy.emails:
        try:
            report["email"] = _send_email(tenant, policy.emails, title, body)
        except Exception as exc:  # the SMTP server's trouble must not stop Slack
            log.warning("failure e-mail of %s not sent: %s", label, exc)
            report["email"] = "failed"
    if policy.slack:
        try:
            _post_slack(tenant, policy.slack, title, body)
            report["slack"] = "sent"
        except ActionError as exc:  # its messages never carry the webhook URL (the secret)
            log.warning("failure Slack alert of %s not sent: %s", label, exc)
            report["slack"] = "failed"
        except Exception as exc:  # anything else might: only its kind is logged
            log.warning("failure Slack alert of %s not sent (%s)", label, type(exc).__name__)
            report["slack"] = "failed"
