"""What the builder's endpoints do: drafts, forms, triggers, publishing, versions, test runs."""

from __future__ import annotations

import json
from html import unescape

import pytest
from django.http import QueryDict

from actions.sdk import registry
from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, StepRun
from circuits.automation.models.trigger import Trigger
from circuits.automation.services.versions import ImportCircuit, SaveDraft, check_document, validate_version
from circuits.automation.triggers.registry import validate_trigger
from circuits.records.models import Record
from circuits.tenancy.credentials import save_credential
from circuits.web.views.builder import schema_forms
from circuits.web.views.builder.gallery import templates
from circuits.web.views.builder.services import RerunFromStep, diff_documents
from tests.api.helpers import session_client, simple_circuit
from tests.builder.helpers import document, flow
from tests.engine.helpers import build, edge, node

URL = "/t/acme/circuits/flow/edit"
API = "/api/v1/circuits/flow"  # what the builder's JSON reads and writes go to (static/builder/*.js)


def browser_api(user):
    """/api/v1 the way the builder calls it: the signed-in session and X-Tenant."""
    return session_client(user, "acme")


# --- the gallery -------------------------------------------------------------------------------


def test_every_gallery_template_is_a_valid_circuit_document_with_a_valid_graph(world):
    assert len(templates()) >= 3
    for template in templates():
        check_document(template.document)
        for t in template.document["triggers"]:
            assert validate_trigger(t["type"], t.get("config", {})) == [], template.id
        circuit = ImportCircuit(world.tenant, world.owner, template.document).execute()
        assert validate_version(circuit.versions.get()) == [], template.id


def test_creating_a_circuit_from_a_template_opens_it_in_the_builder(world, client_for):
    client = client_for(world.editor)
    response = client.post("/t/acme/circuits/new", {"mode": "template", "template": "daily-news-digest"})
    assert response.status_code == 302 and response["Location"] == "/t/acme/circuits/daily-news-digest/edit"
    again = client.post("/t/acme/circuits/new", {"mode": "template", "template": "daily-news-digest"})
    assert again["Location"] == "/t/acme/circuits/daily-news-digest-2/edit"  # a free slug, not an error
    circuit = Circuit.objects.get(tenant=world.tenant, slug="daily-news-digest")
    assert circuit.triggers.get().type == "schedule"
    page = client.get("/t/acme/circuits/daily-news-digest/edit")
    data = json.loads(page.content.decode().split('id="builder-data" type="application/json">')[1].split("</script>")[0])
    assert {n["key"] for n in data["document"]["nodes"]} == {"news", "each_item", "post_item", "summary"}
    assert data["ports"]["each_item"] == ["each", "done", "error"]


def test_importing_an_exported_file_creates_a_circuit_and_a_broken_file_is_refused_by_field(world, client_for):
    client = client_for(world.editor)
    flow(world)
    exported = browser_api(world.editor).get(f"{API}/export")
    assert exported.status_code == 200 and exported.json()["slug"] == "flow"
    upload = json.dumps({**exported.json(), "slug": "flow-copy"}).encode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post("/t/acme/circuits/new", {"mode": "import", "file": SimpleUploadedFile("f.json", upload)})
    assert response.status_code == 302 and response["Location"].endswith("/flow-copy/edit")
    broken = client.post("/t/acme/circuits/new", {"mode": "import", "file": SimpleUploadedFile("f.json", b"{nope")})
    assert broken.status_code == 400 and b"not valid JSON" in broken.content


# --- drafts ---------------------------------------------------------------------------------------


def test_saving_returns_the_new_revision_and_the_graphs_problems(world, client_for):
    flow(world)
    client = client_for(world.editor)
    revision = Circuit.objects.get(slug="flow").versions.get(status="draft").revision
    doc = document(extra=True)
    doc["nodes"][1]["config"] = {}  # util.log without its message
    client = browser_api(world.editor)
    response = client.put(f"{API}/draft", {**doc, "base_revision": revision}, format="json")
    assert response.status_code == 200
    assert response.json()["revision"] == revision + 1 and response.json()["ports"]["note"] == ["next", "error"]
    errors = client.post(f"{API}/draft/validate", format="json").json()["errors"]
    assert any(e.get("node") == "note" and "message" in e["message"] for e in errors)


def test_a_stale_revision_is_a_conflict_and_nothing_is_overwritten(world, client_for):
    circuit = flow(world)
    draft = circuit.versions.get(status="draft")
    SaveDraft(world.tenant, world.admin, circuit, document(), base_revision=draft.revision).execute()  # someone else saves
    response = browser_api(world.editor).put(f"{API}/draft", {**document(extra=True), "base_revision": draft.revision}, format="json")
    assert response.status_code == 409
    assert response.json()["type"].endswith("conflict") and "Reload" in response.json()["detail"]
    assert circuit.versions.get(status="draft").nodes.count() == 1  # the other person's save stands


def test_a_malformed_document_is_refused_naming_the_problem(world, client_for):
    flow(world)
    client = browser_api(world.editor)
    bad = {"nodes": [{"key": "Bad Key", "action": "util.log"}], "edges": [], "base_revision": 2}
    response = client.put(f"{API}/draft", bad, format="json")
    assert response.status_code == 400
    assert "nodes[0].key" in response.json()["errors"]
    assert "nodes.non_field_errors" in client.put(f"{API}/draft", {"nodes": "x", "edges": []}, format="json").json()["errors"]
    malformed = client.put(f"{API}/draft", "{not json", content_type="application/json")
    assert malformed.status_code == 400 and malformed.json()["type"].endswith("malformed-json")


# --- config forms ---------------------------------------------------------------------------------


def test_the_node_form_offers_only_credentials_of_the_kind_the_action_needs(world, client_for):
    flow(world)
    save_credential(world.tenant, "team-slack", "slack_webhook", {"url": "https://hooks.slack.com/services/x"})
    save_credential(world.tenant, "mail", "smtp", {"host": "127.0.0.1"})
    save_credential(world.other_tenant, "their-slack", "slack_webhook", {"url": "https://hooks.slack.com/services/y"})
    node_json = json.dumps({"config": {"credential": "team-slack", "text": "hi"}})
    page = client_for(world.viewer).get(f"{URL}/node-form", {"action": "notify.slack", "key": "post", "node": node_json}).content.decode()
    select = page.split('name="c.credential"')[1].split("</select>")[0]
    assert "team-slack" in select and "mail" not in select and "their-slack" not in select
    assert '<fieldset class="plain" disabled>' in page  # read-only for a viewer
    assert "steps.&lt;key&gt;.output" in page and "loop.item" in page  # the expression help


def _validate(client, data: dict) -> dict:
    response = client.post(f"{URL}/node-form", data)
    assert response.status_code == 200
    html = response.content.decode()
    result = json.loads(unescape(html.split('data-result="')[1].split('"></template>')[0]))
    return {"html": html, **result}


def test_the_node_form_parses_typed_fields_and_reports_errors_on_their_fields(world, client_for):
    flow(world)
    client = client_for(world.editor)
    result = _validate(
        client,
        {
            "action": "web.http_request",
            "key": "call",
            "n.key": "call",
            "c.url": "https://example.com/{{ trigger.id }}",
            "c.method": "POST",
            "c.headers": '{"X-Team": "ops"}',
            "c.timeout_seconds": "12.5",
            "c.follow_redirects.__present": "1",  # unchecked: differs from the default (true)
            "c.fail_on_status.__present": "1",
            "c.fail_on_status": "on",  # checked: the default, left out of the config
            "n.max_attempts": "3",
            "n.backoff_seconds": "2",
            "n.on_error": "continue",
        },
    )
    assert result["valid"], result["errors"]
    assert result["node"]["config"] == {
        "url": "https://example.com/{{ trigger.id }}",
        "method": "POST",
        "headers": {"X-Team": "ops"},
        "timeout_seconds": 12.5,
        "follow_redirects": False,
    }
    assert result["node"]["retry"] == {"max_attempts": 3, "backoff_seconds": 2}
    assert result["node"]["on_error"] == "continue"
    bad = _validate(client, {"action": "web.http_request", "key": "call", "n.key": "call", "c.headers": "{oops", "c.timeout_seconds": "soon"})
    assert not bad["valid"]
    assert 'id="fe-c-headers"' in bad["html"] and "not valid JSON" in bad["html"]
    assert "&#x27;soon&#x27; is not a number" in bad["html"]
    assert "is required" in bad["html"].split('id="fe-c-url"')[1].split("</div>")[0]


def test_a_template_that_does_not_compile_is_shown_on_its_field(world, client_for):
    flow(world)
    result = _validate(client_for(world.editor), {"action": "util.log", "key": "note", "n.key": "note", "c.message": "Hi {{ trigger.name "})
    assert not result["valid"]
    assert "invalid template" in result["html"].split('id="fe-c-message"')[1].split("</div>")[0]


def test_switch_cases_and_parallel_branches_become_ports(world, client_for):
    flow(world)
    client = client_for(world.editor)
    cases = json.dumps([{"port": "gold", "equals": "gold"}, {"port": "silver", "equals": "silver"}])
    result = _validate(client, {"action": "control.switch", "key": "route", "n.key": "route", "c.value": "{{ trigger.plan }}", "c.cases": cases})
    assert result["valid"], result["errors"]
    assert result["node"]["ports"] == ["default", "gold", "silver", "error"] or set(result["node"]["ports"]) == {"default", "gold", "silver", "error"}
    branches = _validate(client, {"action": "control.parallel", "key": "fan", "n.key": "fan", "c.branches": "a\nb"})
    assert set(branches["node"]["ports"]) >= {"a", "b", "done", "error"}


def test_renaming_a_step_to_a_taken_or_reserved_key_is_refused(world, client_for):
    flow(world)
    client = client_for(world.editor)
    taken = _validate(client, {"action": "util.log", "key": "note", "n.key": "greet", "taken": '["greet"]', "c.message": "x"})
    assert taken["node"]["key"] == "note" and "already called" in taken["html"]
    reserved = _validate(client, {"action": "util.log", "key": "note", "n.key": "trigger", "c.message": "x"})
    assert reserved["node"]["key"] == "note" and "reserved" in reserved["html"]


def test_schema_forms_round_trip_lists_choices_and_free_values():
    schema = registry.get("web.search_news").schema
    config = {"feeds": ["https://a.example/rss", "https://b.example/rss"], "limit": 5, "query": "ai"}
    fields = schema_forms.build_fields(schema, config, owner="web.search_news")
    data = QueryDict(mutable=True)
    for f in fields:
        data[f.name] = f.value
    parsed, errors = schema_forms.parse_fields(schema, data, owner="web.search_news")
    assert errors == {} and parsed == config
    free = registry.get("util.set_variable").schema
    parsed, _ = schema_forms.parse_fields(free, {"c.variables": ['{"n": 3, "who": "{{ trigger.name }}"}']}, owner="util.set_variable")
    assert parsed == {"variables": {"n": 3, "who": "{{ trigger.name }}"}}
    any_schema = registry.get("control.if").schema
    parsed, _ = schema_forms.parse_fields(any_schema, {"c.condition": ["{{ trigger.score >= 80 }}"]}, owner="control.if")
    assert parsed == {"condition": "{{ trigger.score >= 80 }}"}


def _submitted(fields) -> QueryDict:
    """What the browser posts for these fields (key/value rows as repeated names, plus a blank row)."""
    data = QueryDict(mutable=True)
    for f in schema_forms.all_fields(fields):
        if f.kind == "pairs":
            data[f"{f.name}.__mode"] = "pairs"
            for k, v in [*f.pairs, ("", "")]:
                data.appendlist(f"{f.name}.__k", k)
                data.appendlist(f"{f.name}.__v", v)
        elif f.kind not in ("group", "checkbox", "checkboxes"):  # unticked boxes are not sent
            data[f.name] = f.value
    return data


def test_key_value_editors_give_back_the_same_config_and_can_show_it_as_json():
    variables = registry.get("util.set_variable").schema
    config = {"variables": {"n": 3, "who": "{{ trigger.name }}", "code": "42", "empty": "", "flags": {"a": True}}}
    fields = schema_forms.build_fields(variables, config, owner="util.set_variable")
    assert fields[0].kind == "pairs"
    assert dict(fields[0].pairs) == {"n": "3", "who": "{{ trigger.name }}", "code": '"42"', "empty": "", "flags": '{"a": true}'}
    parsed, errors = schema_forms.parse_fields(variables, _submitted(fields), owner="util.set_variable")
    assert errors == {} and parsed == config
    # Headers hold text only: a number-looking value stays text, unquoted.
    http = registry.get("web.http_request").schema
    config = {"url": "https://example.com", "headers": {"X-Count": "42", "Accept": "application/json"}}
    fields = schema_forms.build_fields(http, config, owner="web.http_request")
    headers = next(f for f in fields if f.key == "headers")
    assert headers.kind == "pairs" and dict(headers.pairs)["X-Count"] == "42"
    parsed, errors = schema_forms.parse_fields(http, _submitted(fields), owner="web.http_request")
    assert errors == {} and parsed == config
    # "Edit as JSON": the same field as one JSON text, which parses back the same.
    as_json = next(f for f in schema_forms.build_fields(http, config, owner="web.http_request", as_json={"c.headers"}) if f.key == "headers")
    assert as_json.kind == "json" and as_json.pairs_json and json.loads(as_json.value) == config["headers"]
    # A row without a name, and a name given twice, are refused on the field.
    bad = QueryDict(mutable=True)
    bad["c.variables.__mode"] = "pairs"
    for k, v in (("a", "1"), ("a", "2"), ("", "lost")):
        bad.appendlist("c.variables.__k", k)
        bad.appendlist("c.variables.__v", v)
    _, errors = schema_forms.parse_fields(variables, bad, owner="util.set_variable")
    assert any("twice" in m for m in errors["c.variables"]) and any("no name" in m for m in errors["c.variables"])


# --- triggers ---------------------------------------------------------------------------------------


def test_the_trigger_panel_saves_a_schedule_and_refuses_a_bad_cron(world, client_for):
    circuit = flow(world)
    client = client_for(world.editor)
    bad = client.post(f"{URL}/trigger-form", {"type": "schedule", "c.cron": "every day", "enabled": "on"})
    assert bad.status_code == 400 and b"not a valid cron expression" in bad.content
    assert not circuit.triggers.exists()
    ok = client.post(f"{URL}/trigger-form", {"type": "schedule", "c.cron": "0 9 * * 1-5", "c.timezone": "Europe/Paris", "enabled": "on"})
    assert ok.status_code == 200 and b"Trigger saved" in ok.content
    trigger = circuit.triggers.get()
    assert trigger.config == {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"} and trigger.next_run_at is not None
    client.post(f"{URL}/trigger-form", {"trigger": trigger.pk, "type": "event", "c.event": "lead.created", "enabled": "on"})
    trigger.refresh_from_db()
    assert (trigger.type, trigger.key) == ("event", "lead.created")
    client.post(f"{URL}/trigger-form", {"trigger": trigger.pk, "delete": "1"})
    assert not Trigger.objects.filter(pk=trigger.pk).exists()


def test_a_trigger_of_another_circuit_cannot_be_edited_through_this_one(world, client_for):
    flow(world)
    other = build(world, "other", [node("a", "util.log", {"message": "x"})], [edge("trigger", "a")], triggers=[{"type": "manual"}])
    trigger = other.triggers.get()
    response = client_for(world.editor).post(f"{URL}/trigger-form", {"trigger": trigger.pk, "type": "api", "enabled": "on"})
    assert response.status_code == 404
    trigger.refresh_from_db()
    assert trigger.type == "manual"


# --- publish, versions, diff, roll back -----------------------------------------------------------------


def test_publishing_an_invalid_draft_answers_the_graph_errors(world, client_for):
    circuit = flow(world)
    draft = circuit.versions.get(status="draft")
    doc = document(extra=True)
    doc["nodes"][1]["config"] = {"message": "{{ nope("}
    SaveDraft(world.tenant, world.editor, circuit, doc, base_revision=draft.revision).execute()
    response = browser_api(world.editor).post(f"{API}/publish", {"note": "try"}, format="json")
    assert response.status_code == 400
    assert any(e.get("node") == "note" for e in response.json()["graph_errors"])
    ok_doc = document(extra=True)
    SaveDraft(world.tenant, world.editor, circuit, ok_doc).execute()
    published = browser_api(world.editor).post(f"{API}/publish", {"note": "second"}, format="json")
    assert published.status_code == 200
    assert (published.json()["number"], published.json()["status"], published.json()["note"]) == (2, "published", "second")


def test_versions_diff_shows_added_removed_and_changed_steps_and_edges(world, client_for):
    flow(world)
    page = client_for(world.viewer).get(f"{URL}/diff", {"a": 1, "b": 2}).content.decode()
    assert "Steps added" in page and "note" in page and "greet.next → note" in page
    changed = diff_documents(
        {"nodes": [{"key": "a", "action": "util.log", "config": {"message": "x"}}], "edges": []},
        {"nodes": [{"key": "a", "action": "util.log", "config": {"message": "y"}, "position": {"x": 5}}], "edges": []},
    )
    change = {"field": "config", "before": {"message": "x"}, "after": {"message": "y"}}
    assert changed["nodes_changed"] == [{"key": "a", "action": "util.log", "fields": [change]}]
    assert client_for(world.viewer).get(f"{URL}/diff", {"a": 1, "b": 9}).status_code == 404
    assert client_for(world.viewer).get(f"{URL}/diff", {"a": "x"}).status_code == 400


def test_rolling_back_publishes_an_earlier_version_again(world, client_for):
    circuit = flow(world)
    client = browser_api(world.editor)
    assert client.post(f"{API}/publish", {"note": "v2"}, format="json").status_code == 200
    response = client.post(f"{API}/rollback", {"version": 1}, format="json")
    assert response.status_code == 200 and response.json()["number"] == 1
    assert circuit.versions.get(status="published").number == 1
    assert client.post(f"{API}/rollback", {"version": 7}, format="json").status_code == 400


# --- test runs ----------------------------------------------------------------------------------------


def test_a_test_run_is_queued_for_a_worker_not_run_inside_the_request(world, client_for, django_capture_on_commit_callbacks):
    flow(world)
    with django_capture_on_commit_callbacks() as callbacks:
        response = browser_api(world.operator).post(f"{API}/test-runs", {"payload": {"name": "Zed"}}, format="json")
    assert response.status_code == 202
    body = response.json()
    execution = Execution.objects.get(pk=body["id"])
    assert (execution.status, execution.is_test, execution.input) == ("queued", True, {"name": "Zed"})
    assert execution.version.status == "draft"
    assert body["url"].endswith(f"/api/v1/executions/{execution.pk}")
    assert len(callbacks) == 1  # handed to the worker once the transaction commits
    bad = browser_api(world.operator).post(f"{API}/test-runs", {"payload": [1]}, format="json")
    assert bad.status_code == 400 and "payload" in bad.json()["errors"]


def test_the_steps_of_a_test_run_show_input_output_and_another_tenants_run_is_404(world, client_for):
    circuit = flow(world)
    execution = Execution.objects.filter(circuit=circuit).first()
    body = browser_api(world.viewer).get(f"/api/v1/executions/{execution.pk}").json()
    steps = {s["node_key"]: s for s in body["steps"]}
    assert steps["greet"]["output"] == "hi Ann" and steps["greet"]["input"] == {"template": "hi Ann"}
    other = simple_circuit(world, "other", tenant=world.other_tenant, actor=world.outsider)
    foreign = run_now(create_execution(other, {"name": "Eve"}))  # another tenant's: a 404, never its data
    assert browser_api(world.viewer).get(f"/api/v1/executions/{foreign.pk}").status_code == 404


@pytest.mark.django_db
def test_rerun_from_a_step_pins_the_earlier_steps_and_runs_the_rest_with_the_current_draft(world):
    nodes = [
        node("lead", "data.create_record", {"object_type": "lead", "fields": {"last_name": "{{ trigger.name }}", "email": "x@example.com"}}),
        node("shout", "util.transform", {"template": "{{ steps.lead.output.last_name | upper }}"}),
    ]
    circuit = build(world, "pinned", nodes, [edge("trigger", "lead"), edge("lead", "shout")], publish=False)
    first = run_now(create_execution(circuit, {"name": "Lovelace"}, version=circuit.versions.get(), is_test=True))
    assert first.output == "LOVELACE" and Record.objects.count() == 1
    changed = [nodes[0], node("shout", "util.transform", {"template": "Dear {{ steps.lead.output.last_name }}"})]
    SaveDraft(world.tenant, world.editor, circuit, {"nodes": changed, "edges": [edge("trigger", "lead"), edge("lead", "shout")]}).execute()
    rerun = RerunFromStep(world.tenant, world.editor, circuit, first, "shout").execute()
    assert StepRun.objects.get(execution=rerun, node_key="lead").logs[-1]["message"] == f"pinned from execution {first.pk}"
    rerun = run_now(rerun)
    assert rerun.status == "succeeded" and rerun.output == "Dear Lovelace"
    assert Record.objects.count() == 1  # the pinned step did not run again
    assert rerun.rerun_of_id == first.pk and rerun.is_test


def test_rerun_from_a_step_that_is_not_in_the_draft_is_refused(world, client_for):
    circuit = flow(world)
    execution = Execution.objects.filter(circuit=circuit).first()
    response = browser_api(world.operator).post(f"/api/v1/executions/{execution.pk}/rerun-from-step", {"node": "ghost"}, format="json")
    assert response.status_code == 400 and "ghost" in response.json()["errors"]["node"][0]


def test_the_builder_has_no_json_endpoints_of_its_own(world, client_for):
    """Saving, validating, publishing, roll back, export, test runs, listening and steps are /api/v1's."""
    execution = Execution.objects.filter(circuit=flow(world)).first()
    client = client_for(world.owner)
    for path in ("save", "validate", "publish", "rollback", "export", "test-run", "listen", f"executions/{execution.pk}/steps"):
        assert client.get(f"{URL}/{path}").status_code == 404, path
        assert client.post(f"{URL}/{path}", "{}", content_type="application/json").status_code == 404, path
    assert client.get(URL).status_code == 200
