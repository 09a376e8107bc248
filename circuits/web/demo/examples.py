"""The demo tenant's example circuits, built against the local demo site, feed and inbox."""

from __future__ import annotations

from urllib.parse import urlparse

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.version import VersionStatus
from circuits.automation.services.versions import FORMAT, ImportCircuit, PublishDraft, SaveDraft, version_document
from circuits.tenancy.credentials import save_credential
from circuits.tenancy.models.tenants import Tenant
from circuits.web.demo.views import inbox_url
from circuits.web.views.builder.gallery import get_template

EXAMPLE_NOTE = "example"  # the note of the versions load_demo publishes
DEMO_TENANT = "acme"  # the slug of the demo tenant load_demo creates
HOT_LEAD_ALERT = "hot-lead-alert"
LEAD_PROCESSING_AI = "lead-processing-ai"


def _edge(source: str, target: str, port: str = "next") -> dict:
    return {"source": source, "port": port, "target": target}


def simple_data_circuit() -> dict:
    """Record-triggered field update — what an Apex after-insert trigger does."""
    score = (
        "{{ 40 + (30 if trigger.record.company else 0)"
        " + (20 if trigger.record.title and ('VP' in trigger.record.title or 'Chief' in trigger.record.title or 'CTO' in trigger.record.title) else 0)"
        " + (10 if trigger.record.phone else 0) }}"
    )
    return {
        "format": FORMAT,
        "name": "Simple Data Circuit",
        "slug": "simple-data-circuit",
        "description": "When a lead is created, score it from its company, title and phone and mark it as being worked.",
        "tags": ["example", "records"],
        "triggers": [{"type": "record_change", "config": {"object_type": "lead", "on": ["created"]}}],
        "nodes": [
            {"key": "score", "action": "util.transform", "label": "Compute score", "config": {"template": score}, "position": {"x": 260, "y": 80}},
            {
                "key": "update",
                "action": "data.update_record",
                "label": "Update the lead",
                "config": {"object_type": "lead", "record_id": "{{ trigger.record.id }}", "fields": {"score": "{{ steps.score.output }}", "status": "working"}},
                "position": {"x": 520, "y": 80},
            },
        ],
        "edges": [_edge("trigger", "score"), _edge("score", "update")],
    }


def hot_lead_alert() -> dict:
    # A lead may have only its (required) e-mail: the name falls back to it, the company to a phrase.
    who = (
        "{{ [trigger.record.first_name, trigger.record.last_name] | select | join(' ') or trigger.record.email }}"
        " ({{ trigger.record.company or 'no company' }})"
    )
    # The rule score crossed 80; the model trained on the tenant's own outcomes says how likely
    # the lead really is to convert, and why — in the alert, so sales can weigh the two.
    model_says = (
        "The lead-score model gives {{ (steps.model.output.score * 100) | round | int }}% to convert"
        "{{ ': ' ~ (steps.model.output.explanation.top | join('; ')) if steps.model.output.explanation.top else '' }}."
    )
    return {
        "format": FORMAT,
        "name": "Hot Lead Alert",
        "slug": HOT_LEAD_ALERT,
        "description": (
            "When a lead's score crosses 80: ask the lead-score model how likely it is to convert,"
            " then tell sales on Slack and by e-mail and create a call task — in parallel."
        ),
        "tags": ["example", "sales"],
        "triggers": [{"type": "threshold", "config": {"object_type": "lead", "field": "score", "value": 80, "direction": "above"}}],
        "nodes": [
            {
                "key": "model",
                "action": "ml.predict_lead_score",
                "label": "Ask the lead-score model",
                "config": {"record_id": "{{ trigger.record.id }}"},
                "position": {"x": 240, "y": 160},
            },
            {
                "key": "alert",
                "action": "control.parallel",
                "label": "Alert everyone",
                "config": {"branches": ["slack", "email", "task"]},
                "position": {"x": 460, "y": 160},
            },
            {
                "key": "slack",
                "action": "notify.slack",
                "label": "Post to #sales",
                "config": {"credential": "demo-slack", "text": f"🔥 Hot lead: {who} scored {{{{ trigger.record.score }}}}. {model_says}"},
                "position": {"x": 700, "y": 40},
                "retry": {"max_attempts": 3, "backoff_seconds": 1},
            },
            {
                "key": "email",
                "action": "notify.email",
                "label": "E-mail sales",
                "config": {
                    "to": ["sales@acme.test"],
                    "subject": f"Hot lead: {who}",
                    "text": f"{who} scored {{{{ trigger.record.score }}}}. {model_says} Call them today.",
                },
                "position": {"x": 700, "y": 160},
            },
            {
                "key": "task",
                "action": "data.create_record",
                "label": "Create a call task",
                "config": {"object_type": "task", "fields": {"subject": f"Call {who}", "status": "open", "related_to": "{{ trigger.record.id }}"}},
                "position": {"x": 700, "y": 280},
            },
        ],
        "edges": [
            _edge("trigger", "model"),
            _edge("model", "alert"),
            _edge("alert", "slack", "slack"),
            _edge("alert", "email", "email"),
            _edge("alert", "task", "task"),
        ],
    }


def competitor_watch(base_url: str) -> dict:
    base = base_url.rstrip("/")
    digest = (
        "📰 Competitor news about Globex:\n"
        "{% for item in steps.news.output['items'] %}• {{ item.title }} — {{ item.link }}\n{% endfor %}"
        "Their site says: {{ steps.site.output.title }}"
    )
    return {
        "format": FORMAT,
        "name": "Competitor Watch",
        "slug": "competitor-watch",
        "description": "Every weekday morning: search the news for Globex; if there is any, read their site, file a review task and post a digest.",
        "tags": ["example", "web"],
        "triggers": [{"type": "schedule", "config": {"cron": "0 8 * * 1-5", "timezone": "UTC"}}],
        "nodes": [
            {
                "key": "news",
                "action": "web.search_news",
                "label": "Search the news",
                "config": {"feeds": [f"{base}/demo/news.xml"], "query": "Globex", "since": "7d"},
                "position": {"x": 240, "y": 100},
            },
            {
                "key": "found",
                "action": "control.if",
                "label": "Anything new?",
                "config": {"condition": "{{ steps.news.output.count > 0 }}"},
                "position": {"x": 460, "y": 100},
            },
            {"key": "site", "action": "web.scrape", "label": "Read their site", "config": {"url": f"{base}/demo/site/"}, "position": {"x": 680, "y": 40}},
            {
                "key": "task",
                "action": "data.create_record",
                "label": "File a review task",
                "config": {"object_type": "task", "fields": {"subject": "Review competitor news: {{ steps.news.output['items'][0].title }}", "status": "open"}},
                "position": {"x": 900, "y": 40},
            },
            {
                "key": "digest",
                "action": "notify.slack",
                "label": "Post the digest",
                "config": {"credential": "demo-slack", "text": digest},
                "position": {"x": 1120, "y": 40},
            },
            {
                "key": "quiet",
                "action": "util.log",
                "label": "Nothing to report",
                "config": {"message": "No competitor news today."},
                "position": {"x": 680, "y": 180},
            },
        ],
        "edges": [
            _edge("trigger", "news"),
            _edge("news", "found"),
            _edge("found", "site", "true"),
            _edge("site", "task"),
            _edge("task", "digest"),
            _edge("found", "quiet", "false"),
        ],
    }


def lead_processing_ai(base_url: str) -> dict:
    """The gallery's Lead Processing AI, pointed at the demo's stand-ins for the internet and Slack:
    a prospect's site is `/demo/companies/<company>/`, the news is the demo feed."""
    base = base_url.rstrip("/")
    document = get_template(LEAD_PROCESSING_AI).document
    # The company is whatever a lead says (a form, an import): it must stay one path segment
    # under /demo/companies/ — "/", "\\" and "." would let "x/../../../metrics" reach any page of
    # the app's own host, which the demo's allow-list opens (and /metrics trusts loopback).
    company_slug = (
        "{{ (steps.lead.output.company or 'unknown') | lower | replace(' ', '-') | replace('/', '-') | replace('\\\\', '-') | replace('.', '-') | urlencode }}"
    )
    overrides = {
        "site": {"url": f"{base}/demo/companies/{company_slug}/"},
        "news": {"feeds": [f"{base}/demo/news.xml"]},
        "slack": {"credential": "demo-slack"},
    }
    for node in document["nodes"]:
        node["config"].update(overrides.get(node["key"], {}))
    document["tags"] = ["example", *document["tags"]]
    return document


def example_documents(base_url: str) -> list[dict]:
    """Every example circuit of the demo, as circuit documents."""
    return [simple_data_circuit(), hot_lead_alert(), competitor_watch(base_url), lead_processing_ai(base_url)]


def load_examples(tenant: Tenant, actor, base_url: str) -> list[Circuit]:
    """Create the examples (idempotent), the demo Slack credential and the allow-list entry."""
    parsed = urlparse(base_url)
    host = f"{parsed.hostname}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"
    if host not in tenant.outbound_allowlist:
        tenant.outbound_allowlist = [*tenant.outbound_allowlist, host]
        tenant.save(update_fields=["outbound_allowlist"])
    save_credential(tenant, "demo-slack", "slack_webhook", {"url": inbox_url(tenant, "sales", base_url)}, description="The demo's local webhook inbox")
    created = []
    for document in example_documents(base_url):
        circuit = Circuit.objects.for_tenant(tenant).filter(slug=document["slug"]).first()
        if circuit is None:
            circuit = ImportCircuit(tenant, actor, document).execute()
            PublishDraft(tenant, actor, circuit, note=EXAMPLE_NOTE).execute()
            created.append(circuit)
        else:
            _follow_base_url(tenant, actor, circuit, document)
    return created


def _follow_base_url(tenant: Tenant, actor, circuit: Circuit, document: dict) -> None:
    """An example loaded earlier for another address (`make run PORT=…` once on 8000, now on
    8101) points its feed and site at the old port: publish it again for this address, as
    long as nobody changed it since (its published version is still load_demo's, no draft)."""
    published = circuit.versions.filter(status=VersionStatus.PUBLISHED).first()
    if published is None or published.note != EXAMPLE_NOTE or circuit.versions.filter(status=VersionStatus.DRAFT).exists():
        return
    wanted = {"nodes": document["nodes"], "edges": document["edges"]}
    current = version_document(published)
    if [(n["key"], n["config"]) for n in current["nodes"]] == [(n["key"], n["config"]) for n in wanted["nodes"]]:
        return
    SaveDraft(tenant, actor, circuit, wanted, base_revision=0).execute()
    PublishDraft(tenant, actor, circuit, note=EXAMPLE_NOTE).execute()
