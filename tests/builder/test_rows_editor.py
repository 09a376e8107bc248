"""The rows editors of the node form: an if's rules and a switch's cases as rows of columns
(expression, operator, expression), with "Edit as JSON"; a bad row is named and changes nothing."""

from __future__ import annotations

import json
from html import unescape

from django.http import QueryDict

from actions.sdk import registry
from circuits.web.views.builder import schema_forms
from tests.builder.helpers import flow

URL = "/t/acme/circuits/flow/edit/node-form"
RULES = [
    {"left": "{{ trigger.score }}", "op": "gte", "right": 80},
    {"left": "{{ trigger.email }}", "op": "ends_with", "right": "@acme.test"},
    {"left": "{{ trigger.code }}", "op": "eq", "right": "42"},
]


def rows_post(name: str, rows: list[dict], columns: list[str], **extra) -> QueryDict:
    """What the browser posts for a rows editor: one list per column, plus the blank row."""
    data = QueryDict(mutable=True)
    data.update({"key": "check", "n.key": "check", f"{name}.__mode": "rows", **extra})
    for row in [*rows, {}]:
        for column in columns:
            cell = row.get(column, "")
            data.appendlist(f"{name}.__r.{column}", cell if isinstance(cell, str) else json.dumps(cell))  # as typed: JSON for non-text
    return data


def answer(client, data: QueryDict) -> tuple[str, dict | None]:
    response = client.post(URL, data.urlencode(), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    html = response.content.decode()
    if 'id="node-result"' not in html:
        return html, None
    return html, json.loads(unescape(html.split('data-result="')[1].split('"></template>')[0]))


def error_slot(html: str, name: str) -> str:
    return html.split(f'id="fe-{name}"')[1].split("</div>")[0]


def test_an_ifs_rules_render_as_rows_with_an_operator_select(world, client_for):
    flow(world)
    node = {"config": {"rules": RULES, "combine": "any"}}
    response = client_for(world.editor).get(URL, {"action": "control.if", "key": "check", "node": json.dumps(node), "others": "[]"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-rows="c.rules"' in html and 'name="c.rules.__mode" value="rows"' in html
    assert html.count('class="rows-row"') == len(RULES) + 1  # and a blank row to type into
    assert 'value="{{ trigger.score }}"' in html and '<option value="gte" selected>' in html
    assert 'value="&quot;42&quot;"' in html  # text that reads as a number stays text: quoted
    assert 'data-expr="line"' in html  # each value is an expression field
    assert '<option value="any" selected>' in html  # match all / any


def test_rules_typed_as_rows_become_the_config_and_give_back_the_same_rows(world, client_for):
    flow(world)
    client = client_for(world.editor)
    fields = schema_forms.build_fields(registry.get("control.if").schema, {"rules": RULES}, owner="control.if")
    rules = next(f for f in fields if f.key == "rules")
    typed = [dict(zip([c.key for c in rules.columns], row, strict=True)) for row in rules.rows]
    html, result = answer(client, rows_post("c.rules", typed, ["left", "op", "right"], action="control.if", **{"c.combine": "all"}))
    assert result is not None and result["valid"], (result, html)
    assert result["node"]["config"]["rules"] == RULES


def test_a_bad_rule_is_named_by_its_row_and_nothing_is_changed(world, client_for):
    flow(world)
    client = client_for(world.editor)
    rows = [{"left": "{{ trigger.score }}", "op": "gte", "right": "80"}, {"left": "{{ trigger.email }}", "op": "", "right": "x"}, {"op": "eq"}]
    html, result = answer(client, rows_post("c.rules", rows, ["left", "op", "right"], action="control.if"))
    assert result is None  # no result: the builder keeps the node's old config, nothing half-saved
    slot = error_slot(html, "c-rules")
    assert "rule 2: operator is required" in unescape(slot)
    assert "rule 3: value is required" in unescape(slot)
    assert "rule 1" not in slot


def test_an_unknown_operator_is_refused_naming_the_row(world, client_for):
    flow(world)
    html, result = answer(
        client_for(world.editor), rows_post("c.rules", [{"left": "{{ trigger.a }}", "op": "like", "right": "x"}], ["left", "op", "right"], action="control.if")
    )
    assert result is None and "rule 1: operator &#x27;like&#x27; is not one of the choices" in error_slot(html, "c-rules")


def test_switch_cases_as_rows_become_ports_and_a_bad_port_name_is_named(world, client_for):
    flow(world)
    client = client_for(world.editor)
    cases = [{"port": "gold", "equals": "gold"}, {"port": "silver", "equals": "{{ vars.tier }}"}]
    html, result = answer(client, rows_post("c.cases", cases, ["port", "equals"], action="control.switch", **{"c.value": "{{ trigger.plan }}"}))
    assert result is not None and result["valid"], html
    assert result["node"]["config"]["cases"] == cases
    assert set(result["node"]["ports"]) == {"gold", "silver", "default", "error"}
    bad = [{"port": "gold", "equals": "gold"}, {"port": "Not Valid", "equals": "x"}]
    html, result = answer(client, rows_post("c.cases", bad, ["port", "equals"], action="control.switch", **{"c.value": "{{ trigger.plan }}"}))
    assert result is None and "case 2: port name &#x27;Not Valid&#x27; must be lower-case" in error_slot(html, "c-cases")


def test_get_records_filters_are_rows_too_and_their_checks_still_apply(world, client_for):
    flow(world)
    client = client_for(world.editor)
    filters = [{"field": "score", "op": "gte", "value": 50}, {"field": "status", "op": "in", "value": ["new", "open"]}]
    extra = {"c.object_type": "lead"}
    html, result = answer(client, rows_post("c.filters", filters, ["field", "op", "value"], action="data.get_records", **extra))
    assert result is not None and result["valid"], html
    assert result["node"]["config"]["filters"] == filters
    # The action's own check (an 'in' needs a list) still speaks, on the field.
    _, result = answer(
        client, rows_post("c.filters", [{"field": "status", "op": "in", "value": "new"}], ["field", "op", "value"], action="data.get_records", **extra)
    )
    assert result is not None and not result["valid"] and any("'in' needs a list" in e for e in result["errors"])


def test_the_blank_row_alone_gives_no_rules(world, client_for):
    flow(world)
    _, result = answer(client_for(world.editor), rows_post("c.rules", [], ["left", "op", "right"], action="control.if", **{"c.condition": "{{ true }}"}))
    assert result is not None and "rules" not in result["node"]["config"]


def test_rules_can_be_edited_as_json_and_go_back_to_rows(world, client_for):
    flow(world)
    client = client_for(world.editor)
    node = json.dumps({"config": {"rules": RULES}})
    as_json = client.get(URL, {"action": "control.if", "key": "check", "node": node, "others": "[]", "json": '["c.rules"]'}).content.decode()
    assert 'data-rows="c.rules"' not in as_json
    assert 'name="c.rules"' in as_json and 'data-to="pairs"' in as_json  # "Edit as rows"
    assert json.loads(unescape(as_json.split('name="c.rules"')[1].split(">", 1)[1].split("</textarea>")[0])) == RULES
    # The JSON text posts back as the config, as before.
    data = QueryDict(mutable=True)
    data.update({"action": "control.if", "key": "check", "n.key": "check", "c.rules": json.dumps(RULES)})
    _, result = answer(client, data)
    assert result["node"]["config"]["rules"] == RULES


def test_rules_rows_cannot_show_keys_they_have_no_column_for_so_they_stay_json(world, client_for):
    fields = schema_forms.build_fields(registry.get("control.if").schema, {"rules": [{"left": 1, "op": "eq", "extra": 2}]}, owner="control.if")
    assert next(f for f in fields if f.key == "rules").kind == "json"


def test_a_viewer_gets_the_rows_read_only_and_cannot_post_them(world, client_for):
    flow(world)
    client = client_for(world.viewer)
    html = client.get(URL, {"action": "control.if", "key": "check", "node": json.dumps({"config": {"rules": RULES}}), "others": "[]"}).content.decode()
    assert 'data-rows="c.rules"' in html and '<fieldset class="plain" disabled>' in html and "hx-post" not in html
    data = rows_post("c.rules", RULES, ["left", "op", "right"], action="control.if")
    response = client.post(URL, data.urlencode(), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403
