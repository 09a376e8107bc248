"""Every builder page and endpoint under the inherited permission suite."""

from __future__ import annotations

import json

from circuits.automation.models.circuit import Circuit
from tests.access import Page, TenantAccessSuite
from tests.builder.helpers import flow, fresh_draft, last_execution, save_data
from tests.engine.helpers import build, chain, node

BASE = "/t/{tenant}/circuits/{slug}/edit"


def at(path: str = ""):
    return lambda w: BASE.format(tenant=w.tenant.slug, slug=flow(w).slug) + path


def listen_url(w) -> str:
    """A circuit with a webhook trigger (made once), whose test events the builder listens for."""
    if not Circuit.objects.filter(tenant=w.tenant, slug="hooked").exists():
        build(w, "hooked", [node("greet", "util.transform", {"template": "hi"})], chain("greet"), triggers=[{"type": "webhook"}])
    return BASE.format(tenant=w.tenant.slug, slug="hooked") + "/listen"


class TestBuilderAccess(TenantAccessSuite):
    pages = [
        Page("builder", at()),
        Page("new-circuit-page", lambda w: f"/t/{w.tenant.slug}/circuits/new"),
        Page(
            "new-circuit",
            lambda w: f"/t/{w.tenant.slug}/circuits/new",
            perm="edit",
            method="post",
            data=lambda w: {"mode": "blank", "name": f"Made {Circuit.objects.count()}"},
        ),
        Page(
            "new-from-template",
            lambda w: f"/t/{w.tenant.slug}/circuits/new",
            perm="edit",
            method="post",
            data=lambda w: {"mode": "template", "template": "lead-follow-up"},
        ),
        Page("save", at("/save"), perm="edit", method="post", data=save_data),
        Page("validate", at("/validate")),
        Page("publish", at("/publish"), perm="publish", method="post", data=fresh_draft),
        Page("versions", at("/versions")),
        Page("diff", lambda w: at("/diff")(w) + "?a=1&b=2"),
        Page("rollback", at("/rollback"), perm="publish", method="post", data=lambda w: {"number": "1"}),
        Page("export", at("/export")),
        Page(
            "node-form",
            lambda w: at("/node-form")(w) + "?action=util.log&key=note&node=" + json.dumps({"config": {"message": "x"}}),
        ),
        Page(
            "node-form-validate",
            at("/node-form"),
            perm="edit",
            method="post",
            data=lambda w: {"action": "util.log", "key": "note", "c.message": "hello", "n.key": "note"},
        ),
        Page("trigger-form", at("/trigger-form")),
        Page("trigger-save", at("/trigger-form"), perm="edit", method="post", data=lambda w: {"type": "manual", "enabled": "on"}),
        Page("test-run", at("/test-run"), perm="run", method="post", data=lambda w: {"payload": json.dumps({"name": "Bo"})}, ok=(202,)),
        Page("steps", lambda w: at(f"/executions/{last_execution(w).pk}/steps")(w)),
        Page("listen", listen_url, perm="run", method="post", data=lambda w: {}),
        Page("listen-result", lambda w: listen_url(w) + "?listen=nobody", perm="run"),
    ]
