"""Every gallery template and every demo circuit runs to success on the least data its trigger
can carry — a lead with only its e-mail, an empty webhook body, an empty API payload (issue #9).

The gallery is read from circuits/automation/gallery/, so a new template is covered without
touching this file. What a template reaches outside the machine is replaced by a local
stand-in: its Slack credentials post to the demo's webhook inbox on the live server, its news
feeds and scraped pages are read from a local server; any other outside address fails the test,
naming it. What a template expects the tenant to have made (a lead-score model for its ML
steps) is made, as a new tenant would: defined, untrained, scoring by its cold-start rules.
"""

from __future__ import annotations

import json
from email.utils import format_datetime
from types import SimpleNamespace
from urllib.parse import urlparse
from xml.sax.saxutils import escape

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from actions.web.tests.server import reply, serve
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.services.versions import ImportCircuit, PublishDraft
from circuits.records.models import Record
from circuits.records.service import CreateRecord
from circuits.tenancy.credentials import save_credential
from circuits.tenancy.models.notifications import InboxMessage
from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.web.demo.examples import example_documents
from circuits.web.demo.views import inbox_url
from circuits.web.views.builder.gallery import templates
from tests.demo.minimal import fire, off_machine_urls
from tests.engine.helpers import drain

CREDENTIAL_KINDS = {"notify.slack": "slack_webhook"}  # the local stand-in each credentialed action gets
MODEL_KINDS = {"ml.predict_lead_score": "lead_score", "ml.predict_churn": "churn"}  # the model each ML step needs
PAGE = "<html><head><title>A company</title></head><body><main><h1>A company</h1><p>What it does.</p></main></body></html>"


def _feed(query: str) -> str:
    """An RSS feed with one item carrying only what an item needs: a title, a link and a date."""
    title = escape(query or "News")
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<item><title>{title}</title><link>https://news.example.test/1</link><pubDate>{format_datetime(timezone.now())}</pubDate></item>"
        "</channel></rss>"
    )


def _allow(tenant: Tenant, url: str) -> None:
    parsed = urlparse(url)
    tenant.outbound_allowlist = [*tenant.outbound_allowlist, f"{parsed.hostname}:{parsed.port}"]
    tenant.save(update_fields=["outbound_allowlist"])


def _with_local_stand_ins(document: dict, tenant: Tenant, live_url: str, feeds) -> dict:
    for node in document["nodes"]:
        config = node.get("config", {})
        if node["action"] == "web.search_news":
            config["feeds"] = [feeds.url(f"/{document['slug']}/{node['key']}.xml")]
        if node["action"] == "web.scrape":
            config["url"] = feeds.url("/page.html")
        if node["action"] in MODEL_KINDS:
            _define_model(tenant, MODEL_KINDS[node["action"]])
        if "credential" in config:
            kind = CREDENTIAL_KINDS.get(node["action"])
            assert kind, f"{node['action']} needs a credential: add a local stand-in for it to CREDENTIAL_KINDS"
            save_credential(tenant, config["credential"], kind, {"url": inbox_url(tenant, "gallery", live_url)})
    assert off_machine_urls(document) == [], "the template reaches outside the machine: give it a local stand-in here"
    return document


def _define_model(tenant: Tenant, kind: str) -> None:
    from intelligence.ml.models import ModelDefinition
    from intelligence.ml.services import CreateDefinition

    if not ModelDefinition.objects.for_tenant(tenant).filter(kind=kind).exists():
        fields = {"lead_score": ("lead", "status", "converted"), "churn": ("account", "tier", "churned")}[kind]
        CreateDefinition(tenant, None, name=kind.replace("_", "-"), kind=kind, object_type=fields[0], label_field=fields[1], positive_value=fields[2]).execute()


def _assert_all_succeeded(executions: list[Execution]) -> None:
    assert executions, "the trigger started nothing"
    for execution in executions:
        assert execution.status == "succeeded", (execution.circuit.slug, execution.error)
        steps = list(execution.steps.order_by("pk"))
        # A failure the circuit handles (its node says "on error: continue", or an error port
        # follows it; the step then keeps the port it left by) is the template's design, and is
        # shown as such; any other failure is a broken template.
        unhandled = [s.node_key for s in steps if s.status != "succeeded" and not (s.status == "failed" and s.port)]
        assert unhandled == [], [(s.node_key, s.error) for s in steps]
        # No internal object leaked into what a step was given.
        assert "Undefined" not in json.dumps([s.input for s in steps], default=str)


@pytest.fixture
def feeds():
    """A local feed server answering every news step of every template with a one-item feed."""
    routes = {}
    for template in templates():
        for node in template.document["nodes"]:
            if node["action"] == "web.search_news":
                routes[f"/{template.document['slug']}/{node['key']}.xml"] = reply(200, _feed(node["config"].get("query", "")), "application/rss+xml")
    routes["/page.html"] = reply(200, PAGE, "text/html")
    with serve(routes) as server:
        yield server


@pytest.mark.parametrize("template", templates(), ids=lambda t: t.id)
def test_a_gallery_template_runs_to_success_on_a_minimal_payload(template, world, live_server, feeds, settings, client):
    settings.DEMO_ENDPOINTS = True
    _allow(world.tenant, live_server.url)
    _allow(world.tenant, feeds.url())
    document = _with_local_stand_ins(template.document, world.tenant, live_server.url, feeds)
    circuit = ImportCircuit(world.tenant, world.owner, document).execute()
    PublishDraft(world.tenant, world.owner, circuit).execute()
    executions = []
    for trigger in circuit.triggers.order_by("pk"):
        executions += fire(world, circuit, trigger, client)
    _assert_all_succeeded(executions)
    assert {e.circuit_id for e in executions} == {circuit.pk}
    slack_steps = sum(e.steps.filter(action="notify.slack", status="succeeded").count() for e in executions)
    messages = list(InboxMessage.objects.for_tenant(world.tenant))
    assert len(messages) == slack_steps  # each post arrived, and none with an empty text
    assert all(m.body.get("text", "").strip() for m in messages)


def test_the_gallery_templates_reach_their_steps_on_minimal_data(world, live_server, feeds, settings, client):
    """Not only a quick way out: the loop body posts, the webhook answers, the task is filed."""
    settings.DEMO_ENDPOINTS = True
    _allow(world.tenant, live_server.url)
    _allow(world.tenant, feeds.url())
    ran: dict[str, set[str]] = {}
    for template in templates():
        circuit = ImportCircuit(world.tenant, world.owner, _with_local_stand_ins(template.document, world.tenant, live_server.url, feeds)).execute()
        PublishDraft(world.tenant, world.owner, circuit).execute()
        for trigger in circuit.triggers.all():
            for execution in fire(world, circuit, trigger, client):
                ran.setdefault(execution.circuit.slug, set()).update(execution.steps.values_list("node_key", flat=True))
    assert ran["daily-news-digest"] == {"news", "each_item", "post_item", "summary"}
    assert ran["webhook-to-slack"] == {"message", "post", "answer"}
    assert ran["route-support-requests"] == {"route", "community", "task", "answer"}
    assert ran["lead-follow-up"] == {"is_hot", "log_cold"}  # no score: not hot
    # Only an e-mail: read, scraped, searched, retrieved, scored by cold-start rules; not hot.
    assert ran["lead-processing-ai"] == {"lead", "site", "news", "intel", "score", "competitors", "hot", "nurture"}
    task = Record.objects.for_tenant(world.tenant).get(object_type="task")
    assert task.data["subject"] == "Support request (no e-mail given)"
    posted = [m.body["text"] for m in InboxMessage.objects.for_tenant(world.tenant).order_by("pk")]
    assert "*New event*\n{}" in posted  # an empty webhook body
    assert any(text.startswith("<https://news.example.test/1|automation>") for text in posted)


# --- the demo's example circuits -------------------------------------------------------------------


@pytest.fixture
def demo(live_server, settings, tmp_path):
    settings.DEMO_ENDPOINTS = True
    settings.VAR_DIR = tmp_path
    call_command("load_demo", base_url=live_server.url, stdout=open("/dev/null", "w"))  # noqa: SIM115
    tenant = Tenant.objects.get(slug="acme")
    return SimpleNamespace(tenant=tenant, owner=Membership.objects.filter(tenant=tenant, role="owner").first().user)


@pytest.mark.parametrize("slug", [d["slug"] for d in example_documents("http://127.0.0.1")])
def test_a_demo_circuit_runs_to_success_on_a_minimal_record_or_payload(slug, demo, client):
    circuit = Circuit.objects.for_tenant(demo.tenant).get(slug=slug)
    executions = []
    for trigger in circuit.triggers.all():
        executions += fire(demo, circuit, trigger, client)
    assert circuit.pk in {e.circuit_id for e in executions}
    _assert_all_succeeded(executions)  # and whatever else the same record or event started


def test_a_lead_with_only_an_email_is_scored_and_a_hot_one_with_only_a_score_alerts_everyone(demo, client):
    CreateRecord(demo.tenant, demo.owner, "lead", {"email": "plain@example.test"}).execute()
    hot = CreateRecord(demo.tenant, demo.owner, "lead", {"email": "hot@example.test", "score": 90}).execute()
    drain()
    _assert_all_succeeded(list(Execution.objects.all()))
    plain = Record.objects.get(data__email="plain@example.test")
    assert plain.data["score"] == 40 and plain.data["status"] == "working"  # no company, title or phone
    [slack] = InboxMessage.objects.for_tenant(demo.tenant)
    assert slack.body["text"].startswith("🔥 Hot lead: hot@example.test (no company) scored 90. The lead-score model gives ")
    assert mail.outbox[0].subject == "Hot lead: hot@example.test (no company)"
    task = Record.objects.for_tenant(demo.tenant).get(object_type="task")
    assert task.data["subject"] == "Call hot@example.test (no company)" and task.data["related_to"] == hot.pk
