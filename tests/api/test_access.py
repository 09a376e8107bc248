"""Every API endpoint through the permission suite (tests/api/access.py)."""

from __future__ import annotations

from circuits.tenancy.roles import Perm
from tests.api.access import ApiAccessSuite, Endpoint

V = "/api/v1"
DOC = {"nodes": [{"key": "greet", "action": "util.transform", "config": {"template": "hi"}}], "edges": [{"source": "trigger", "target": "greet"}]}


def _export(objs) -> dict:
    from circuits.automation.services.versions import export_circuit

    return {"document": export_circuit(objs.circuit), "slug": "imported"}


def _hooked(objs, body=None):
    """Give the circuit a webhook trigger (once) so its test URL can be listened on."""
    from circuits.automation.services.versions import SaveTrigger

    circuit = objs.circuit
    if not circuit.triggers.filter(type="webhook").exists():
        SaveTrigger(circuit.tenant, circuit.versions.first().created_by, circuit, type="webhook", config={}).execute()
    return body


ENDPOINTS = [
    Endpoint("circuits", "get", lambda o: f"{V}/circuits", Perm.VIEW),
    Endpoint("circuits", "post", lambda o: f"{V}/circuits", Perm.EDIT, lambda o: {"name": "New one"}, ok=(201,)),
    Endpoint("circuit", "get", lambda o: f"{V}/circuits/greeter", Perm.VIEW, cross=lambda o: f"{V}/circuits/theirs"),
    Endpoint("circuit", "patch", lambda o: f"{V}/circuits/greeter", Perm.EDIT, lambda o: {"description": "x"}, cross=lambda o: f"{V}/circuits/theirs"),
    Endpoint("circuit", "delete", lambda o: f"{V}/circuits/spare", Perm.EDIT, ok=(204,), cross=lambda o: f"{V}/circuits/theirs"),
    Endpoint("enable", "post", lambda o: f"{V}/circuits/greeter/enable", Perm.RUN, cross=lambda o: f"{V}/circuits/theirs/enable"),
    Endpoint("disable", "post", lambda o: f"{V}/circuits/greeter/disable", Perm.RUN, cross=lambda o: f"{V}/circuits/theirs/disable"),
    Endpoint("export", "get", lambda o: f"{V}/circuits/greeter/export", Perm.VIEW, cross=lambda o: f"{V}/circuits/theirs/export"),
    Endpoint("import", "post", lambda o: f"{V}/import", Perm.EDIT, _export, ok=(201,)),
    Endpoint("versions", "get", lambda o: f"{V}/circuits/greeter/versions", Perm.VIEW, cross=lambda o: f"{V}/circuits/theirs/versions"),
    Endpoint("version", "get", lambda o: f"{V}/circuits/greeter/versions/1", Perm.VIEW, cross=lambda o: f"{V}/circuits/theirs/versions/1"),
    Endpoint("draft", "get", lambda o: f"{V}/circuits/greeter/draft", Perm.VIEW, cross=lambda o: f"{V}/circuits/theirs/draft"),
    Endpoint("draft", "put", lambda o: f"{V}/circuits/greeter/draft", Perm.EDIT, lambda o: DOC, cross=lambda o: f"{V}/circuits/theirs/draft"),
    Endpoint("validate", "post", lambda o: f"{V}/circuits/greeter/draft/validate", Perm.VIEW, cross=lambda o: f"{V}/circuits/theirs/draft/validate"),
    Endpoint(
        "publish", "post", lambda o: f"{V}/circuits/greeter/publish", Perm.PUBLISH, lambda o: {"note": "v2"}, cross=lambda o: f"{V}/circuits/theirs/publish"
    ),
    Endpoint(
        "rollback", "post", lambda o: f"{V}/circuits/greeter/rollback", Perm.PUBLISH, lambda o: {"version": 1}, cross=lambda o: f"{V}/circuits/theirs/rollback"
    ),
    Endpoint(
        "expression-preview",
        "post",
        lambda o: f"{V}/circuits/greeter/expressions/preview",
        Perm.VIEW,
        lambda o: {"expression": "{{ trigger.name }}", "node": "greet"},
        cross=lambda o: f"{V}/circuits/theirs/expressions/preview",
    ),
    Endpoint(
        "expression-paths",
        "get",
        lambda o: f"{V}/circuits/greeter/expressions/paths?node=greet",
        Perm.VIEW,
        cross=lambda o: f"{V}/circuits/theirs/expressions/paths",
    ),
    Endpoint("triggers", "get", lambda o: f"{V}/circuits/greeter/triggers", Perm.VIEW, cross=lambda o: f"{V}/circuits/theirs/triggers"),
    Endpoint(
        "triggers",
        "post",
        lambda o: f"{V}/circuits/greeter/triggers",
        Perm.EDIT,
        lambda o: {"type": "manual"},
        ok=(201,),
        cross=lambda o: f"{V}/circuits/theirs/triggers",
    ),
    Endpoint(
        "trigger",
        "get",
        lambda o: f"{V}/circuits/greeter/triggers/{o.trigger.pk}",
        Perm.VIEW,
        cross=lambda o: f"{V}/circuits/greeter/triggers/{o.other_trigger.pk}",
    ),
    Endpoint(
        "trigger",
        "patch",
        lambda o: f"{V}/circuits/greeter/triggers/{o.trigger.pk}",
        Perm.EDIT,
        lambda o: {"enabled": False},
        cross=lambda o: f"{V}/circuits/theirs/triggers/{o.other_trigger.pk}",
    ),
    Endpoint(
        "trigger",
        "delete",
        lambda o: f"{V}/circuits/greeter/triggers/{o.trigger.pk}",
        Perm.EDIT,
        ok=(204,),
        cross=lambda o: f"{V}/circuits/greeter/triggers/{o.other_trigger.pk}",
    ),
    Endpoint("execute", "post", lambda o: f"{V}/execute", Perm.RUN, lambda o: {"circuit_name": "greeter", "data": {"name": "Ada"}}, ok=(202,)),
    Endpoint("executions", "get", lambda o: f"{V}/executions", Perm.VIEW),
    Endpoint("execution", "get", lambda o: f"{V}/executions/{o.finished.pk}", Perm.VIEW, cross=lambda o: f"{V}/executions/{o.other_execution.pk}"),
    Endpoint("cancel", "post", lambda o: f"{V}/executions/{o.queued.pk}/cancel", Perm.RUN, cross=lambda o: f"{V}/executions/{o.other_execution.pk}/cancel"),
    Endpoint(
        "rerun", "post", lambda o: f"{V}/executions/{o.finished.pk}/rerun", Perm.RUN, ok=(201,), cross=lambda o: f"{V}/executions/{o.other_execution.pk}/rerun"
    ),
    Endpoint(
        "retry", "post", lambda o: f"{V}/executions/{o.failed.pk}/retry", Perm.RUN, ok=(201,), cross=lambda o: f"{V}/executions/{o.other_execution.pk}/retry"
    ),
    Endpoint(
        "retry-on-published",
        "post",
        lambda o: f"{V}/executions/{o.failed.pk}/retry",
        Perm.RUN,
        lambda o: {"version": "published"},
        ok=(201,),
        cross=lambda o: f"{V}/executions/{o.other_execution.pk}/retry",
    ),
    Endpoint("events", "get", lambda o: f"{V}/events", Perm.VIEW),
    Endpoint("publish-event", "post", lambda o: f"{V}/events/publish", Perm.RUN, lambda o: {"event": "lead.created", "data": {}}, ok=(201,)),
    Endpoint("audit", "get", lambda o: f"{V}/audit", Perm.MANAGE_SETTINGS),
    Endpoint("custom-event", "post", lambda o: f"{V}/events/custom", Perm.MANAGE_SETTINGS, lambda o: {"name": "deal.escalated"}, ok=(201,)),
    Endpoint("metrics", "get", lambda o: f"{V}/metrics", Perm.VIEW),
    Endpoint("metrics-reset", "post", lambda o: f"{V}/metrics/reset", Perm.MANAGE_SETTINGS),
    Endpoint("actions", "get", lambda o: f"{V}/actions", Perm.VIEW),
    Endpoint("object-types", "get", lambda o: f"{V}/object-types", Perm.VIEW),
    Endpoint("object-type", "get", lambda o: f"{V}/object-types/lead", Perm.VIEW),
    Endpoint(
        "object-type",
        "put",
        lambda o: f"{V}/object-types/subscription",
        Perm.MANAGE_SETTINGS,
        lambda o: {"label": "Subscription", "fields": [{"name": "plan", "type": "string"}]},
    ),
    Endpoint("records", "get", lambda o: f"{V}/records/lead", Perm.VIEW),
    Endpoint("records", "post", lambda o: f"{V}/records/lead", Perm.EDIT, lambda o: {"email": "new@example.com"}, ok=(201,)),
    Endpoint(
        "upsert", "post", lambda o: f"{V}/records/lead/upsert", Perm.EDIT, lambda o: {"match_on": ["email"], "data": {"email": "ada@example.com", "score": 5}}
    ),
    Endpoint("record", "get", lambda o: f"{V}/records/lead/{o.record.pk}", Perm.VIEW, cross=lambda o: f"{V}/records/lead/{o.other_record.pk}"),
    Endpoint(
        "record",
        "patch",
        lambda o: f"{V}/records/lead/{o.record.pk}",
        Perm.EDIT,
        lambda o: {"score": 99},
        cross=lambda o: f"{V}/records/lead/{o.other_record.pk}",
    ),
    Endpoint("record", "delete", lambda o: f"{V}/records/lead/{o.record.pk}", Perm.EDIT, ok=(204,), cross=lambda o: f"{V}/records/lead/{o.other_record.pk}"),
    Endpoint("credentials", "get", lambda o: f"{V}/credentials", Perm.VIEW),
    Endpoint(
        "credentials",
        "post",
        lambda o: f"{V}/credentials",
        Perm.MANAGE_SETTINGS,
        lambda o: {"name": "new-token", "kind": "http_bearer", "secret": {"token": "t"}},
        ok=(201,),
    ),
    Endpoint("credential", "get", lambda o: f"{V}/credentials/crm-token", Perm.VIEW, cross=lambda o: f"{V}/credentials/their-token"),
    Endpoint(
        "credential",
        "put",
        lambda o: f"{V}/credentials/crm-token",
        Perm.MANAGE_SETTINGS,
        lambda o: {"kind": "http_bearer", "secret": {"token": "new"}},
        cross=lambda o: f"{V}/credentials/their-token",
    ),
    Endpoint("credential", "delete", lambda o: f"{V}/credentials/crm-token", Perm.MANAGE_SETTINGS, ok=(204,), cross=lambda o: f"{V}/credentials/their-token"),
    Endpoint("members", "get", lambda o: f"{V}/members", Perm.VIEW),
    Endpoint("members", "post", lambda o: f"{V}/members", Perm.MANAGE_MEMBERS, lambda o: {"identifier": "new@example.test", "role": "viewer"}, ok=(202,)),
    Endpoint("member", "get", lambda o: f"{V}/members/{o.member.pk}", Perm.VIEW, cross=lambda o: f"{V}/members/{o.other_member.pk}"),
    Endpoint(
        "member",
        "patch",
        lambda o: f"{V}/members/{o.member.pk}",
        Perm.MANAGE_MEMBERS,
        lambda o: {"role": "operator"},
        cross=lambda o: f"{V}/members/{o.other_member.pk}",
    ),
    Endpoint("member", "delete", lambda o: f"{V}/members/{o.member.pk}", Perm.MANAGE_MEMBERS, ok=(204,), cross=lambda o: f"{V}/members/{o.other_member.pk}"),
    Endpoint("roles", "get", lambda o: f"{V}/roles", Perm.VIEW),
    Endpoint("api-keys", "get", lambda o: f"{V}/api-keys", Perm.MANAGE_SETTINGS),
    Endpoint("api-keys", "post", lambda o: f"{V}/api-keys", Perm.MANAGE_SETTINGS, lambda o: {"name": "ci", "role": "viewer"}, ok=(201,)),
    Endpoint("api-key", "get", lambda o: f"{V}/api-keys/{o.api_key.pk}", Perm.MANAGE_SETTINGS, cross=lambda o: f"{V}/api-keys/{o.other_api_key.pk}"),
    Endpoint(
        "revoke", "post", lambda o: f"{V}/api-keys/{o.api_key.pk}/revoke", Perm.MANAGE_SETTINGS, cross=lambda o: f"{V}/api-keys/{o.other_api_key.pk}/revoke"
    ),
    Endpoint(
        "circuit-on-failure",
        "patch",
        lambda o: f"{V}/circuits/greeter",
        Perm.EDIT,
        lambda o: {"on_failure": {"notify": ["owner"], "error_circuit": "spare"}},
        cross=lambda o: f"{V}/circuits/theirs",
    ),
    Endpoint("tenant-settings", "get", lambda o: f"{V}/tenant/settings", Perm.VIEW),
    Endpoint("tenant-settings", "patch", lambda o: f"{V}/tenant/settings", Perm.MANAGE_SETTINGS, lambda o: {"on_failure": {"notify": ["admins"]}}),
    Endpoint("tenant-limits", "patch", lambda o: f"{V}/tenant/settings", Perm.MANAGE_SETTINGS, lambda o: {"limits": {"max_steps": 50}}),
    Endpoint("tenant-allowlist", "patch", lambda o: f"{V}/tenant/settings", Perm.MANAGE_SETTINGS, lambda o: {"outbound_allowlist": ["api.example.com"]}),
    Endpoint("version-diff", "get", lambda o: f"{V}/circuits/greeter/versions/1/diff/2", Perm.VIEW, cross=lambda o: f"{V}/circuits/theirs/versions/1/diff/1"),
    Endpoint("grants", "get", lambda o: f"{V}/circuits/greeter/grants", Perm.VIEW, cross=lambda o: f"{V}/circuits/theirs/grants"),
    Endpoint(
        "grants",
        "post",
        lambda o: f"{V}/circuits/greeter/grants",
        Perm.MANAGE_MEMBERS,
        lambda o: {"user": o.member.user_id, "permission": "edit"},
        ok=(201,),
        cross=lambda o: f"{V}/circuits/theirs/grants",
    ),
    Endpoint(
        "grant",
        "delete",
        lambda o: f"{V}/circuits/greeter/grants/{o.member.user_id}/run",
        Perm.MANAGE_MEMBERS,
        cross=lambda o: f"{V}/circuits/theirs/grants/{o.member.user_id}/run",
    ),
    Endpoint(
        "test-runs",
        "post",
        lambda o: f"{V}/circuits/greeter/test-runs",
        Perm.RUN,
        lambda o: {"payload": {"name": "Ada"}},
        ok=(202,),
        cross=lambda o: f"{V}/circuits/theirs/test-runs",
    ),
    Endpoint(
        "test-runs-listen",
        "post",
        lambda o: f"{V}/circuits/greeter/test-runs/listen",
        Perm.RUN,
        lambda o: _hooked(o, {}),
        cross=lambda o: f"{V}/circuits/theirs/test-runs/listen",
    ),
    Endpoint(
        "test-runs-listen",
        "get",
        lambda o: f"{V}/circuits/greeter/test-runs/listen?listen=abc",
        Perm.RUN,
        _hooked,
        cross=lambda o: f"{V}/circuits/theirs/test-runs/listen?listen=abc",
    ),
    Endpoint(
        "test-runs-listen",
        "delete",
        lambda o: f"{V}/circuits/greeter/test-runs/listen?listen=abc",
        Perm.RUN,
        _hooked,
        ok=(204,),
        cross=lambda o: f"{V}/circuits/theirs/test-runs/listen?listen=abc",
    ),
    Endpoint(
        "draft-node-run",
        "post",
        lambda o: f"{V}/circuits/greeter/draft/nodes/greet/run",
        Perm.RUN,
        lambda o: {"trigger": {"name": "Ada"}},
        ok=(202,),
        cross=lambda o: f"{V}/circuits/theirs/draft/nodes/greet/run",
    ),
    Endpoint(
        "rerun-from-step",
        "post",
        lambda o: f"{V}/executions/{o.finished.pk}/rerun-from-step",
        Perm.RUN,
        lambda o: {"node": "greet"},
        ok=(201,),
        cross=lambda o: f"{V}/executions/{o.other_execution.pk}/rerun-from-step",
    ),
]


class TestEveryEndpointsAccess(ApiAccessSuite):
    pages = ENDPOINTS
