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


def in_app_recipients(execution: Execution, names: tuple[str, ...]) -> list[Any]:
    """The members the policy names, today: groups and usernames resolved through memberships."""
    tenant = execution.tenant
    members = Membership.objects.for_tenant(tenant)
    wanted: list[int] = []
    owner_id = execution.circuit.owner_id
    if "owner" in names and owner_id and members.filter(user_id=owner_id).exists():
        wanted.append(owner_id)
    roles = ([Role.OWNER, Role.ADMIN] if "admins" in names else []) + ([Role.EDITOR] if "editors" in names else [])
    if roles:
        wanted += list(members.filter(role__in=roles).order_by("user_id").values_list("user_id", flat=True))
    named, _ = resolve_members(tenant, [n for n in names if n not in ("owner", "admins", "editors")])
    wanted += [u.pk for u in named]
    by_pk = get_user_model().objects.in_bulk(list(dict.fromkeys(wanted)))
    return [by_pk[pk] for pk in dict.fromkeys(wanted) if pk in by_pk]


def _message(execution: Execution, policy: Policy, alert: digest.Alert) -> tuple[str, str]:
    circuit = execution.circuit
    step = failed_step(execution)
    message = (execution.error or {}).get("message") or "no error message"
    where = f" at step {step['node']}" if step and step.get("node") else ""
    title = f"{circuit.name} failed"
    lines = [f"Execution #{execution.pk} of {circuit.name!r} ({circuit.slug}) failed{where}: {message}"]
    if alert.suppressed:
        since = f" since {alert.since:%Y-%m-%d %H:%M} UTC" if alert.since else ""
        lines.append(
            f"{alert.suppressed} more {'failure' if alert.suppressed == 1 else 'failures'} of this circuit{since} "
            f"were counted without an alert of their own (digest window: {policy.digest_minutes} min)."
        )
    lines.append(execution_url(execution))
    return title, "\n".join(lines)


def _send_email(execution: Execution, addresses: tuple[str, ...], title: str, body: str) -> int:
    users, missing = resolve_members(execution.tenant, list(addresses))
    if missing:
        log.warning("failure e-mail of execution %s skips %d address(es) that are no longer members", execution.pk, len(missing))
    to = [u.email for u in users if u.email]
    if not to:
        return 0
    connection = get_connection(timeout=EMAIL_TIMEOUT)
    subject = f"[Circuit OS · {execution.tenant.name}] {title}"
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, to, connection=connection).send()


def _post_slack(execution: Execution, name: str, title: str, body: str) -> None:
    url = str(read_credential(execution.tenant, name, CredentialKind.SLACK_WEBHOOK).get("url") or "").strip()
    if not url:
        raise ActionError(f"credential {name!r}: the webhook URL is missing")
    post_to_webhook(execution.tenant, url, {"text": f":rotating_light: *{title}*\n{body}"}, name=name)


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
    if not cache.add(f"circuitos:failure-delivered:{execution.pk}", 1, timeout=DELIVERED_TTL):
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
    alert = digest.admit(execution.tenant_id, execution.circuit_id, policy.digest_minutes)
    if alert is None:
        report["digest"] = "counted"
        return report
    report["digest"] = alert.suppressed
    title, body = _message(execution, policy, alert)

    if policy.notify:
        try:
            users = in_app_recipients(execution, policy.notify)
            if users:
                create_notifications(execution.tenant, title=title, body=body, level="error", link=execution_path(execution), users=users, execution=execution)
            report["in_app"] = len(users)
        except Exception:
            log.exception("in-app failure notification of execution %s failed", execution.pk)
            report["in_app"] = "failed"
    if policy.emails:
        try:
            report["email"] = _send_email(execution, policy.emails, title, body)
        except Exception as exc:  # the SMTP server's trouble must not stop Slack
            log.warning("failure e-mail of execution %s not sent: %s", execution.pk, exc)
            report["email"] = "failed"
    if policy.slack:
        try:
            _post_slack(execution, policy.slack, title, body)
            report["slack"] = "sent"
        except ActionError as exc:  # its messages never carry the webhook URL (the secret)
            log.warning("failure Slack alert of execution %s not sent: %s", execution.pk, exc)
            report["slack"] = "failed"
        except Exception as exc:  # anything else might: only its kind is logged
            log.warning("failure Slack alert of execution %s not sent (%s)", execution.pk, type(exc).__name__)
            report["slack"] = "failed"
    log.info("failure of execution %s delivered: %s", execution.pk, report)
    return report
