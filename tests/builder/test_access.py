"""Every builder page and htmx partial under the inherited permission suite.

The builder's JSON reads and writes go to /api/v1: their access is proven in tests/api/test_access.py.
"""

from __future__ import annotations

import json

from circuits.automation.models.circuit import Circuit
from tests.access import Page, TenantAccessSuite
from tests.builder.helpers import flow

BASE = "/t/{tenant}/circuits/{slug}/edit"


def at(path: str = ""):
    return lambda w: BASE.format(tenant=w.tenant.slug, slug=flow(w).slug) + path


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
        Page("versions", at("/versions")),
        Page("diff", lambda w: at("/diff")(w) + "?a=1&b=2"),
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
    ]
