"""The demo tenant's example circuits run end to end against the local demo site, feed and inbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.automation.models.trigger import Trigger
from circuits.automation.triggers.kinds.schedule import fire_due
from circuits.records.models import Record
from circuits.records.service import CreateRecord
from circuits.tenancy.models.notifications import InboxMessage
from circuits.tenancy.models.tenants import Tenant
from tests.access import Page, TenantAccessSuite
from tests.engine.helpers import drain


@pytest.fixture
def demo(live_server, settings, tmp_path):
    settings.DEMO_ENDPOINTS = True
    settings.VAR_DIR = tmp_path
    call_command("load_demo", base_url=live_server.url, stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Tenant.objects.get(slug="acme")


def test_load_demo_is_idempotent_and_publishes_the_four_examples(demo, live_server):
    call_command("load_demo", base_url=live_server.url, stdout=open("/dev/null", "w"))  # noqa: SIM115
    slugs = sorted(Circuit.objects.for_tenant(demo).values_list("slug", flat=True))
    assert slugs == ["competitor-watch", "hot-lead-alert", "lead-processing-ai", "simple-data-circuit"]
    for circuit in Circuit.objects.for_tenant(demo):
        assert circuit.versions.filter(status="published").count() == 1


def test_a_new_lead_is_scored_and_a_hot_one_alerts_slack_email_and_creates_a_task(demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lead = CreateRecord(
            demo,
            None,
            "lead",
            {"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.test", "company": "US Navy", "title": "VP Engineering", "phone": "+1 555"},
        ).execute()
    drain()
    lead.refresh_from_db()
    assert lead.data["score"] == 100 and lead.data["status"] == "working"  # Simple Data Circuit
    statuses = dict(Execution.objects.values_list("circuit__slug", "status"))
    assert statuses == {"simple-data-circuit": "succeeded", "hot-lead-alert": "succeeded", "lead-processing-ai": "succeeded"}
    [slack] = InboxMessage.objects.for_tenant(demo).filter(body__text__startswith="🔥")
    assert "Hot lead: Grace Hopper (US Navy) scored 100" in slack.body["text"]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["sales@acme.test"]
    task = Record.objects.for_tenant(demo).get(object_type="task")
    assert task.data["subject"].startswith("Call Grace Hopper") and task.data["related_to"] == lead.pk


def test_a_cold_lead_does_not_alert(demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        CreateRecord(demo, None, "lead", {"last_name": "Nobody", "email": "n@example.test"}).execute()
    drain()
    assert not InboxMessage.objects.filter(body__text__startswith="🔥").exists()
    assert not Execution.objects.filter(circuit__slug="hot-lead-alert").exists()


def test_competitor_watch_reads_the_feed_and_site_files_a_task_and_posts_a_digest(demo):
    trigger = Trigger.objects.get(circuit__slug="competitor-watch")
    Trigger.objects.filter(pk=trigger.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    assert fire_due() == 1
    drain()
    execution = Execution.objects.get(circuit__slug="competitor-watch")
    assert execution.status == "succeeded", execution.error
    news = execution.steps.get(node_key="news").output
    assert [i["title"] for i in news["items"]] == ["Globex launches an AI sales assistant", "Globex opens a European office"]
    task = Record.objects.for_tenant(demo).get(object_type="task")
    assert task.data["subject"] == "Review competitor news: Globex launches an AI sales assistant"
    [digest] = InboxMessage.objects.for_tenant(demo)
    assert "Globex opens a European office" in digest.body["text"]
    assert "Their site says: Globex Corporation — AI Sales Assistant" in digest.body["text"]


def test_demo_endpoints_are_off_unless_enabled(client, settings):
    settings.DEMO_ENDPOINTS = False
    assert client.get("/demo/site/").status_code == 404
    assert client.post("/demo/inbox/acme/sales", {"text": "x"}, content_type="application/json").status_code == 404


class TestInboxPageAccess(TenantAccessSuite):
    pages = [Page("inbox", lambda w: f"/t/{w.tenant.slug}/inbox/")]


@pytest.mark.django_db
def test_the_inbox_page_lists_only_this_tenants_messages(client_for, world, settings):
    settings.DEMO_ENDPOINTS = True
    InboxMessage.objects.create(tenant=world.tenant, channel="sales", body={"text": "ours"})
    InboxMessage.objects.create(tenant=world.other_tenant, channel="sales", body={"text": "theirs"})
    page = client_for(world.viewer).get("/t/acme/inbox/").content.decode()
    assert "ours" in page and "theirs" not in page


def test_the_demo_slack_inbox_passes_the_check_made_when_a_slack_credential_is_saved(demo, live_server):
    from circuits.automation.services.tenant_settings import SaveCredential
    from circuits.tenancy.models.tenants import Membership
    from circuits.web.demo.views import inbox_url

    owner = Membership.objects.filter(tenant=demo, role="owner").first().user
    url = inbox_url(demo, "sales", live_server.url)
    SaveCredential(demo, owner, name="demo-slack", kind="slack_webhook", secret={"url": url}).execute()  # as the settings page would


def test_load_demo_trains_a_lead_score_model_whose_first_scores_are_real_and_explained(demo, live_server):
    from actions.sdk import registry
    from circuits.automation.engine.context import DirectContext
    from intelligence.ml.models import ModelDefinition

    definition = ModelDefinition.objects.for_tenant(demo).get(name="lead-score")
    active = definition.active_version
    assert active is not None and active.split == "time" and active.metrics["roc_auc"] > 0.6, active and active.message
    call_command("load_demo", base_url=live_server.url, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert definition.versions.count() == 1  # trained once
    lead = CreateRecord(demo, None, "lead", {"email": "new@initech.example", "title": "VP of Sales", "source": "referral", "company": "Initech"}).execute()
    context = DirectContext(tenant=demo, execution=None, node_key="n1", data={"trigger": {}, "steps": {}, "vars": {}})
    out = registry.get("ml.predict_lead_score")().run(context, {"record_id": lead.pk})
    assert out["cold_start"] is False and out["version"] == active.number and 0 < out["score"] < 1
    assert out["explanation"]["top"] and any(t.startswith(("title", "source")) for t in out["explanation"]["top"])


def test_make_run_loads_the_demo_for_the_port_it_serves_on():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in __import__("os").environ.items() if k != "DEMO_BASE_URL"}
    dry = subprocess.run(["make", "-n", "run", "PORT=8101"], cwd=root, env=env, capture_output=True, text=True, check=True).stdout
    assert 'load_demo --base-url "${DEMO_BASE_URL:-http://127.0.0.1:8101}"' in dry
    assert "run.sh 127.0.0.1 8101" in dry


def test_loading_the_demo_for_another_port_moves_its_allow_list_entry_credential_and_feed_there(db, settings, tmp_path):
    from circuits.automation.services.versions import SaveDraft, current_version, version_document
    from circuits.tenancy.credentials import read_credential

    settings.VAR_DIR = tmp_path
    quiet = open("/dev/null", "w")  # noqa: SIM115
    call_command("load_demo", base_url="http://127.0.0.1:8000", stdout=quiet)
    tenant = Tenant.objects.get(slug="acme")
    call_command("load_demo", base_url="http://127.0.0.1:8101", stdout=quiet)
    tenant.refresh_from_db()
    assert "127.0.0.1:8101" in tenant.outbound_allowlist
    assert read_credential(tenant, "demo-slack")["url"] == "http://127.0.0.1:8101/demo/inbox/acme/sales"
    watch = Circuit.objects.for_tenant(tenant).get(slug="competitor-watch")
    published = watch.versions.get(status="published")
    nodes = {n["key"]: n["config"] for n in version_document(published)["nodes"]}
    assert nodes["news"]["feeds"] == ["http://127.0.0.1:8101/demo/news.xml"]
    assert nodes["site"]["url"] == "http://127.0.0.1:8101/demo/site/"
    assert watch.versions.count() == 2  # the old one archived, not rewritten

    # Once someone changed the example, loading the demo again leaves it alone.
    owner = tenant.memberships.get(user__username="owner@acme.test").user
    SaveDraft(tenant, owner, watch, version_document(published), base_revision=0).execute()
    call_command("load_demo", base_url="http://127.0.0.1:8202", stdout=quiet)
    assert watch.versions.get(status="published").pk == published.pk
    assert current_version(watch).status == "draft"
