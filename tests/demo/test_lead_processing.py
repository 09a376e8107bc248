"""Lead Processing AI, the demo's flagship: a new lead runs through its company's site, the news,
the tenant's own documents, its trained model and its knowledge graph — every step real, offline
(the demo's local site, feed and Slack inbox on the live server). And the demo endpoints'
refusals, which answer before anything runs; their successful runs, through a real worker, are
in tests/http/test_demo_endpoints.py."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution
from circuits.records.models import Record
from circuits.records.service import CreateRecord
from circuits.tenancy.models.notifications import InboxMessage
from circuits.tenancy.models.tenants import Membership, Tenant
from circuits.web.api.views.demo import SAMPLE_LEAD
from circuits.web.demo.examples import lead_processing_ai
from circuits.web.views.builder.gallery import get_template
from intelligence.rag.models import Document
from tests.api.access import assert_problem
from tests.api.helpers import key_client, make_key
from tests.engine.helpers import drain

STEPS = ["lead", "site", "news", "intel", "score", "competitors", "hot", "opportunity", "qualify", "slack"]


@pytest.fixture
def demo(live_server, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", base_url=live_server.url, stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Tenant.objects.get(slug="acme")


def new_lead(tenant, fields: dict, capture) -> Record:
    with capture(execute=True):
        lead = CreateRecord(tenant, None, "lead", fields).execute()
    drain()
    return lead


def steps_of(execution: Execution) -> dict:
    return {s.node_key: s for s in execution.steps.all()}


def test_the_demo_and_the_gallery_hold_lead_processing_ai_in_the_order_the_issue_names(demo, live_server):
    actions = [n["action"] for n in get_template("lead-processing-ai").document["nodes"]]
    assert actions[:7] == [
        "data.get_record",
        "web.scrape",
        "web.search_news",
        "rag.retrieve_company_intel",
        "ml.predict_lead_score",
        "graph.query_competitors",
        "control.if",
    ]
    circuit = Circuit.objects.for_tenant(demo).get(slug="lead-processing-ai")
    assert circuit.versions.filter(status="published").count() == 1
    # The demo's copy reaches the local site, feed and inbox instead of the internet and Slack.
    nodes = {n["key"]: n["config"] for n in lead_processing_ai(live_server.url)["nodes"]}
    assert nodes["site"]["url"].startswith(f"{live_server.url}/demo/companies/")
    assert nodes["news"]["feeds"] == [f"{live_server.url}/demo/news.xml"] and nodes["slack"]["credential"] == "demo-slack"
    # Its documents were ingested and embedded, once.
    assert Document.objects.for_tenant(demo).filter(source__startswith="demo/", status="ready").count() == 5
    call_command("load_demo", base_url=live_server.url, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Document.objects.for_tenant(demo).filter(source__startswith="demo/").count() == 5


def test_a_hot_lead_runs_every_step_on_the_demo_data_becomes_an_opportunity_and_alerts_with_the_models_view(demo, django_capture_on_commit_callbacks):
    lead = new_lead(demo, SAMPLE_LEAD, django_capture_on_commit_callbacks)
    execution = Execution.objects.get(circuit__slug="lead-processing-ai")
    assert execution.status == "succeeded", execution.error
    steps = steps_of(execution)
    assert {key: steps[key].status for key in STEPS} == dict.fromkeys(STEPS, "succeeded") and "nurture" not in steps
    out = {key: steps[key].output for key in STEPS}
    assert out["lead"]["id"] == lead.pk and out["lead"]["company"] == "Initech"
    assert out["site"]["title"].startswith("Initech") and "Rotterdam" in out["site"]["text"]
    assert [i["title"] for i in out["news"]["items"]] == ["Initech cuts prices on its CRM", "Initech wins a manufacturing award"]
    assert out["intel"]["passages"] and all(p["citation"]["document_id"] for p in out["intel"]["passages"])
    assert out["intel"]["passages"][0]["title"] == "Initech — account brief" and "Initech" in out["intel"]["answer"]["text"]
    score = out["score"]
    assert score["cold_start"] is False and score["version"] == 1 and score["score"] >= 0.6
    assert any(t.startswith("source is referral") for t in score["explanation"]["top"])
    assert out["competitors"]["names"][0] == "Soylent Data"  # stated; Acme follows through the shared market
    assert "Acme Corporation" in out["competitors"]["names"]
    assert out["hot"] == {"result": True} and steps["hot"].port == "true"
    opportunity = Record.objects.for_tenant(demo).get(object_type="opportunity")
    assert out["opportunity"]["id"] == opportunity.pk and opportunity.data["name"] == "Initech — Ada Lovelace"
    assert opportunity.data["stage"] == "qualification" and opportunity.data["probability"] == round(score["score"] * 100)
    lead.refresh_from_db()
    assert lead.data["status"] == "qualified"
    [message] = [m for m in InboxMessage.objects.for_tenant(demo) if m.body["text"].startswith("🚀")]
    text = message.body["text"]
    assert f"Ada Lovelace at Initech — {round(score['score'] * 100)}% likely to convert (model v1)" in text
    assert "Competitors: Soylent Data" in text and "Initech cuts prices on its CRM" in text and f"Opportunity #{opportunity.pk}" in text

    # The rule score (Simple Data Circuit) crossed 80, so Hot Lead Alert ran too — and tells sales what the model says.
    alert = Execution.objects.get(circuit__slug="hot-lead-alert")
    assert alert.status == "succeeded", alert.error
    model = alert.steps.get(node_key="model").output
    [message] = [m for m in InboxMessage.objects.for_tenant(demo) if m.body["text"].startswith("🔥")]
    assert f"The lead-score model gives {round(model['score'] * 100)}% to convert: source is referral" in message.body["text"]


def test_a_cold_lead_nobody_knows_is_left_to_nurture_without_stopping_at_the_missing_site_or_company(demo, django_capture_on_commit_callbacks):
    new_lead(demo, {"email": "sam@gmail.com", "title": "Assistant", "source": "cold call"}, django_capture_on_commit_callbacks)
    execution = Execution.objects.get(circuit__slug="lead-processing-ai")
    assert execution.status == "succeeded", execution.error
    steps = steps_of(execution)
    # No company: the demo has no site for it (404) and the graph does not know gmail.com — both
    # steps fail visibly and the circuit goes on (on error: continue).
    assert steps["site"].status == "failed" and "404" in steps["site"].error["message"]
    assert steps["competitors"].status == "failed" and "gmail.com" in steps["competitors"].error["message"]
    assert steps["score"].output["score"] < 0.6
    assert steps["hot"].port == "false" and steps["nurture"].status == "succeeded" and "left to nurture" in steps["nurture"].output["message"]
    assert "opportunity" not in steps and not Record.objects.for_tenant(demo).filter(object_type="opportunity").exists()
    assert not InboxMessage.objects.for_tenant(demo).exists()


# -- the demo endpoints' refusals (nothing is created) --------------------------------------------


def owner_key(tenant, role: str = "owner"):
    user = Membership.objects.get(tenant=tenant, role=role).user
    return key_client(make_key(tenant, user, role))


def test_the_demo_endpoints_refuse_other_tenants_viewers_a_disabled_circuit_and_the_demo_off(demo, settings, django_user_model):
    other = Tenant.objects.create(slug="globex", name="Globex")
    user = django_user_model.objects.create_user("boss@globex.test")
    Membership.objects.create(tenant=other, user=user, role="owner")
    for path in ("lead-processing", "hot-lead"):
        assert_problem(key_client(make_key(other, user, "owner")).post(f"/api/v1/demo/{path}", {}, format="json"), 404)
        assert_problem(owner_key(demo, "viewer").post(f"/api/v1/demo/{path}", {}, format="json"), 403)
    Circuit.objects.for_tenant(demo).filter(slug="lead-processing-ai").update(enabled=False)
    problem = assert_problem(owner_key(demo).post("/api/v1/demo/lead-processing", {}, format="json"), 409)
    assert "Lead Processing AI is disabled" in problem["detail"]
    settings.DEMO_ENDPOINTS = False
    assert_problem(owner_key(demo).post("/api/v1/demo/hot-lead", {}, format="json"), 404)
    assert not Record.objects.filter(object_type="lead", data__email=SAMPLE_LEAD["email"]).exists()


BAD_LEADS = [
    ("lead-processing", {"email": "not an e-mail"}, "email", "e-mail"),
    ("lead-processing", {"company": "Initech"}, "email", "required"),
    ("lead-processing", {"email": "a@b.example", "colour": "red"}, "colour", "colour"),
    ("lead-processing", ["a", "list"], "body", "JSON object"),
    ("hot-lead", {"email": "a@b.example", "score": 40}, "score", "reaches 80"),
    ("hot-lead", {"email": "a@b.example", "score": "NaN"}, "score", ""),
    ("hot-lead", {"email": "a@b.example", "score": "40"}, "score", "reaches 80"),
    ("hot-lead", {"email": "a@b.example", "score": None}, "score", "a number"),
]


def test_a_bad_demo_lead_is_a_400_naming_the_field_and_saves_nothing(demo):
    before = Record.objects.for_tenant(demo).count()
    for path, body, field, fragment in BAD_LEADS:
        problem = assert_problem(owner_key(demo).post(f"/api/v1/demo/{path}", body, format="json"), 400)
        assert field in str(problem) and fragment in str(problem), (body, problem)
    assert Record.objects.for_tenant(demo).count() == before and not Execution.objects.exists()


def test_without_a_worker_in_time_the_demo_endpoint_answers_202_with_where_to_follow_the_run(demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_key(demo).post("/api/v1/demo/lead-processing?timeout=0.1", {}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["lead"]["email"] == SAMPLE_LEAD["email"] and body["execution"]["circuit"] == "lead-processing-ai"
    assert response["Location"] == body["execution"]["url"]
    drain()
    assert Execution.objects.get(pk=body["execution"]["id"]).status == "succeeded"


def test_the_openapi_document_describes_both_demo_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path in ("/api/v1/demo/lead-processing", "/api/v1/demo/hot-lead"):
        post = paths[path]["post"]
        assert post["tags"] == ["demo"] and {"200", "202", "400", "404", "409"} <= set(post["responses"])
