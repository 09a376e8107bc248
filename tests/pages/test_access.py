"""Every monitoring/admin page and endpoint through the shared permission suite."""

from __future__ import annotations

import itertools

from circuits.automation.models.execution import ExecutionStatus
from circuits.records.models import Record
from circuits.tenancy.models.access import ApiKey, Credential
from circuits.tenancy.services.apikeys import CreateApiKey
from tests.access import Page, TenantAccessSuite
from tests.pages.helpers import circuit, execution

_n = itertools.count()


def _t(world) -> str:
    return f"/t/{world.tenant.slug}"


def _record(world) -> Record:
    return Record.objects.create(tenant=world.tenant, object_type="lead", data={"email": f"r{next(_n)}@example.test"})


def _key(world) -> ApiKey:
    return CreateApiKey(world.tenant, world.owner, name=f"k{next(_n)}", role="viewer").execute()


def _credential(world) -> Credential:
    from circuits.tenancy.credentials import save_credential

    return save_credential(world.tenant, f"c{next(_n)}", "http_bearer", {"token": "t"})


class TestExecutionPagesAccess(TenantAccessSuite):
    pages = [
        Page("executions", lambda w: f"{_t(w)}/executions/"),
        Page("executions-live-rows", lambda w: f"{_t(w)}/executions/?ids={execution(w).pk}"),
        Page("execution", lambda w: f"{_t(w)}/executions/{execution(w).pk}/"),
        Page(
            "bulk-rerun",
            lambda w: f"{_t(w)}/executions/bulk",
            perm="run",
            method="post",
            data=lambda w: {"action": "rerun", "ids": [execution(w).pk]},
        ),
        Page(
            "bulk-cancel",
            lambda w: f"{_t(w)}/executions/bulk",
            perm="run",
            method="post",
            data=lambda w: {"action": "cancel", "ids": [execution(w, ExecutionStatus.RUNNING).pk]},
        ),
        Page("rerun", lambda w: f"{_t(w)}/executions/{execution(w).pk}/rerun", perm="run", method="post"),
        Page("retry", lambda w: f"{_t(w)}/executions/{execution(w, ExecutionStatus.FAILED).pk}/retry", perm="run", method="post"),
        Page(
            "retry-on-published",
            lambda w: f"{_t(w)}/executions/{execution(w, ExecutionStatus.FAILED).pk}/retry",
            perm="run",
            method="post",
            data=lambda w: {"version": "published"},
        ),
        Page("cancel", lambda w: f"{_t(w)}/executions/{execution(w, ExecutionStatus.RUNNING).pk}/cancel", perm="run", method="post"),
        Page("dashboard", lambda w: f"{_t(w)}/dashboard/"),
        Page("dashboard-7d", lambda w: f"{_t(w)}/dashboard/?range=7d"),
    ]


class TestRecordPagesAccess(TenantAccessSuite):
    pages = [
        Page("record-types", lambda w: f"{_t(w)}/records/"),
        Page("records", lambda w: f"{_t(w)}/records/lead/"),
        Page("record", lambda w: f"{_t(w)}/records/lead/{_record(w).pk}/"),
        Page("record-new-form", lambda w: f"{_t(w)}/records/lead/new", perm="edit"),
        Page(
            "record-create",
            lambda w: f"{_t(w)}/records/lead/new",
            perm="edit",
            method="post",
            data=lambda w: {"email": f"new{next(_n)}@example.test", "status": "new"},
        ),
        Page("record-edit-form", lambda w: f"{_t(w)}/records/lead/{_record(w).pk}/edit", perm="edit"),
        Page(
            "record-edit",
            lambda w: f"{_t(w)}/records/lead/{_record(w).pk}/edit",
            perm="edit",
            method="post",
            data=lambda w: {"email": f"changed{next(_n)}@example.test", "score": "42"},
        ),
        Page("record-delete", lambda w: f"{_t(w)}/records/lead/{_record(w).pk}/delete", perm="edit", method="post"),
        Page("object-type-form", lambda w: f"{_t(w)}/records/_types/new"),
        Page(
            "object-type-define",
            lambda w: f"{_t(w)}/records/_types/new",
            perm="manage_settings",
            method="post",
            data=lambda w: {"slug": f"thing{next(_n)}", "label": "Thing", "fields-0-name": "title", "fields-0-type": "string"},
        ),
    ]


class TestEventAndNotificationPagesAccess(TenantAccessSuite):
    pages = [
        Page("events", lambda w: f"{_t(w)}/events/"),
        Page("publish-event", lambda w: f"{_t(w)}/events/", perm="run", method="post", data=lambda w: {"name": "lead.created", "payload": '{"a": 1}'}),
        Page("notifications", lambda w: f"{_t(w)}/notifications/"),
        Page("notification-bell", lambda w: f"{_t(w)}/notifications/bell"),
        Page("notifications-read", lambda w: f"{_t(w)}/notifications/read", method="post", data=lambda w: {"all": "1"}),
    ]


class TestSettingsPagesAccess(TenantAccessSuite):
    pages = [
        Page("api-keys", lambda w: f"{_t(w)}/settings/api-keys/"),
        Page(
            "api-key-create",
            lambda w: f"{_t(w)}/settings/api-keys/",
            perm="manage_settings",
            method="post",
            data=lambda w: {"name": "ci", "role": "viewer"},  # a key of one's own: only owners name another member
            ok=(201,),
        ),
        Page("api-key-revoke", lambda w: f"{_t(w)}/settings/api-keys/{_key(w).pk}/revoke", perm="manage_settings", method="post"),
        Page("credentials", lambda w: f"{_t(w)}/settings/credentials/"),
        Page(
            "credential-save",
            lambda w: f"{_t(w)}/settings/credentials/",
            perm="manage_settings",
            method="post",
            data=lambda w: {"name": "slack", "kind": "slack_webhook", "secret-slack_webhook-url": "https://hooks.slack.com/services/T1/B2/x"},
        ),
        Page("credential-delete", lambda w: f"{_t(w)}/settings/credentials/{_credential(w).pk}/delete", perm="manage_settings", method="post"),
        Page("outbound", lambda w: f"{_t(w)}/settings/outbound/"),
        Page(
            "outbound-save",
            lambda w: f"{_t(w)}/settings/outbound/",
            perm="manage_settings",
            method="post",
            data=lambda w: {"outbound_allowlist": "crm.internal"},
        ),
        Page("limits", lambda w: f"{_t(w)}/settings/limits/"),
        Page("audit", lambda w: f"{_t(w)}/settings/audit/", perm="manage_settings"),
        Page("audit-filtered", lambda w: f"{_t(w)}/settings/audit/?action=version.published&object_type=version", perm="manage_settings"),
        Page("limits-save", lambda w: f"{_t(w)}/settings/limits/", perm="manage_settings", method="post", data=lambda w: {"max_steps": "500"}),
        Page("retention", lambda w: f"{_t(w)}/settings/retention/"),
        Page("retention-save", lambda w: f"{_t(w)}/settings/retention/", perm="manage_settings", method="post", data=lambda w: {"days": "10"}),
        Page("on-failure", lambda w: f"{_t(w)}/settings/on-failure/"),
        Page(
            "on-failure-save",
            lambda w: f"{_t(w)}/settings/on-failure/",
            perm="manage_settings",
            method="post",
            data=lambda w: {"notify_admins": "1", "digest_minutes": "5"},
        ),
    ]


class TestCircuitFailurePageAccess(TenantAccessSuite):
    pages = [
        Page("circuit-on-failure", lambda w: f"{_t(w)}/circuits/{circuit(w).slug}/on-failure/"),
        Page(
            "circuit-on-failure-save",
            lambda w: f"{_t(w)}/circuits/{circuit(w).slug}/on-failure/",
            perm="edit",
            method="post",
            data=lambda w: {"mode": "own", "notify_owner": "1"},
        ),
    ]
