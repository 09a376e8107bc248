"""Validation reports every template reference to a step that cannot have run before its node
(issue #9): a typo, a step downstream, a step on a parallel sibling branch or the other side of
an if, the node itself, the container it runs inside; `loop` / `loops.<key>` outside their Loop.
References are read from the templates' syntax trees (circuits/automation/engine/references.py).
"""

from __future__ import annotations

import pytest

from circuits.automation.engine.graph import from_document, validate
from circuits.automation.engine.references import Reference, references
from circuits.automation.models.version import CircuitVersion
from circuits.automation.services.versions import GraphInvalid, PublishDraft, SaveDraft, validate_version
from tests.engine.helpers import build, edge, node


def graph_of(nodes: list[dict], edges: list[dict]):
    return from_document({"nodes": nodes, "edges": edges})


def log(key: str, message: str) -> dict:
    return node(key, "util.log", {"message": message})


def reference_errors(nodes: list[dict], edges: list[dict]) -> list[tuple[str, str, str]]:
    return [(e["node"], e["path"], e["expression"]) for e in validate(graph_of(nodes, edges)) if "expression" in e]


# --- what counts as a reference ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ steps.score.output.score }}", [Reference("steps", "score", "steps.score.output.score")]),
        ("x {{ steps['fetch'].output }}", [Reference("steps", "fetch", "steps['fetch'].output")]),
        ("{{ steps.get('fetch') }}", [Reference("steps", "fetch", "steps.get('fetch')"), Reference("steps", "get", "steps.get")]),
        ("{% for i in steps.news.output['items'] %}{{ i.title }}{% endfor %}", [Reference("steps", "news", "steps.news.output['items']")]),
        ("{{ steps.a.output[steps.b.output.k] }}", [Reference("steps", "a", "steps.a.output[…]"), Reference("steps", "b", "steps.b.output.k")]),
        ("{{ (steps.a.output or {}).x | default(steps.b.status) }}", [Reference("steps", "a", "steps.a.output"), Reference("steps", "b", "steps.b.status")]),
        ("{{ loop.item.name }} {{ loops.outer.index }}", [Reference("loop", None, "loop.item.name"), Reference("loops", "outer", "loops.outer.index")]),
        # `| attr('key')` with a constant key reads that step just like `steps.key`.
        ("{{ (steps | attr('fetch')).output }}", [Reference("steps", "fetch", "steps|attr('fetch')")]),
        # Not references: a key computed at run time, the whole dict, Jinja's own loop variable,
        # a template's own variable called steps, text that only looks like one.
        ("{{ steps[vars.which].output }}", []),
        ("{{ steps | tojson }}", []),
        ("{% for x in trigger.items %}{{ loop.index }}{% endfor %}", []),
        ("{% set steps = {'a': 1} %}{{ steps.a }}", []),
        ("steps.a.output is not a template", []),
        ("{{ 'steps.a.output' }}", []),
        ("{{ broken ", []),  # does not parse: check_value reports it
    ],
)
def test_references_are_read_from_the_syntax_tree(template, expected):
    assert references(template) == expected


# --- what is upstream ---------------------------------------------------------------------------


def test_a_typo_in_a_step_key_is_reported_naming_the_node_the_field_and_the_expression():
    nodes = [
        node("set_variable_1", "util.set_variable", {"variables": {"x": 1}}),
        node("use", "util.transform", {"template": {"a": "{{ steps.set_variabel_1.output.x }}", "b": ["ok", "{{ steps.set_variable_1.output }}"]}}),
    ]
    [error] = validate(graph_of(nodes, [edge("trigger", "set_variable_1"), edge("set_variable_1", "use")]))
    assert error == {
        "message": "step 'use', config.template.a: steps.set_variabel_1.output.x reads step 'set_variabel_1', which does not exist"
        " — did you mean 'set_variable_1'?",
        "node": "use",
        "field": "config",
        "path": "config.template.a",
        "expression": "steps.set_variabel_1.output.x",
        "step": "set_variabel_1",
    }


def test_every_bad_reference_is_reported_not_only_the_first():
    nodes = [log("a", "{{ steps.nope.output }} {{ steps.b.output }}"), log("b", "{{ steps.zilch }} {{ steps.b.output }} {{ steps.a.output }}")]
    assert reference_errors(nodes, [edge("trigger", "a"), edge("a", "b")]) == [
        ("a", "config.message", "steps.nope.output"),
        ("a", "config.message", "steps.b.output"),
        ("b", "config.message", "steps.zilch"),
        ("b", "config.message", "steps.b.output"),
    ]


def test_reference_errors_come_with_the_other_problems_of_the_graph():
    nodes = [log("a", "{{ steps.nope }}"), node("b", "util.no_such_action")]
    errors = validate(graph_of(nodes, [edge("trigger", "a"), edge("a", "b")]))
    assert {e["message"].split(":")[0] for e in errors} >= {"unknown action 'util.no_such_action'", "step 'a', config.message"}


def test_a_downstream_step_and_the_nodes_own_output_are_reported():
    nodes = [log("first", "{{ steps.second.output }}"), log("second", "{{ steps.second.output }}")]
    errors = validate(graph_of(nodes, [edge("trigger", "first"), edge("first", "second")]))
    assert [e["message"] for e in errors] == [
        "step 'first', config.message: steps.second.output reads step 'second', which runs after this step (it is downstream of it)",
        "step 'second', config.message: steps.second.output reads this step's own output, which does not exist while it runs",
    ]


def test_the_other_side_of_an_if_is_not_upstream_but_after_the_two_paths_join_both_are():
    nodes = [
        node("check", "control.if", {"condition": "{{ trigger.ok }}"}),
        log("yes", "{{ steps.check.output.result }}"),
        log("no", "{{ steps.yes.output }}"),
        log("joined", "{{ steps.yes.output or steps.no.output }} {{ steps.check.output }}"),
    ]
    edges = [edge("trigger", "check"), edge("check", "yes", "true"), edge("check", "no", "false"), edge("yes", "joined"), edge("no", "joined")]
    [error] = validate(graph_of(nodes, edges))
    assert (error["node"], error["step"]) == ("no", "yes")
    assert "not upstream of this step" in error["message"]


def test_a_parallel_sibling_branch_is_reported_and_after_done_every_branch_is_upstream():
    nodes = [
        node("start", "util.set_variable", {"variables": {"x": 1}}),
        node("fan", "control.parallel", {"branches": ["left", "right"]}),
        log("left_1", "{{ steps.start.output }} {{ steps.right_1.output }}"),
        log("left_2", "{{ steps.left_1.output }}"),
        log("right_1", "{{ steps.left_2.output }} {{ steps.fan.output }}"),
        log("after", "{{ steps.left_2.output }} {{ steps.right_1.output }} {{ steps.fan.output.left }}"),
    ]
    edges = [
        edge("trigger", "start"),
        edge("start", "fan"),
        edge("fan", "left_1", "left"),
        edge("left_1", "left_2"),
        edge("fan", "right_1", "right"),
        edge("fan", "after", "done"),
    ]
    errors = validate(graph_of(nodes, edges))
    assert [(e["node"], e["step"]) for e in errors] == [("left_1", "right_1"), ("right_1", "left_2"), ("right_1", "fan")]
    assert "parallel branch" in errors[0]["message"]
    assert "the container this step runs inside: its output only exists once its body is done" in errors[2]["message"]


def test_inside_a_loop_body_the_item_is_fine_and_the_loops_own_output_is_not():
    nodes = [
        node("fetch", "util.transform", {"template": "{{ [1, 2] }}"}),
        node("each", "control.loop", {"items": "{{ steps.fetch.output }}"}),
        log("body", "{{ loop.item }} {{ loops.each.index }} {{ steps.fetch.output }} {{ steps.each.output }}"),
        log("body_2", "{{ steps.body.output }} {{ loop.index }}"),
        log("after", "{{ steps.each.output.count }} {{ steps.body_2.output }} {{ loop.item }} {{ loops.each.item }}"),
    ]
    edges = [edge("trigger", "fetch"), edge("fetch", "each"), edge("each", "body", "each"), edge("body", "body_2"), edge("each", "after", "done")]
    errors = validate(graph_of(nodes, edges))
    assert [(e["node"], e["expression"]) for e in errors] == [("body", "steps.each.output"), ("after", "loop.item"), ("after", "loops.each.item")]
    assert "inside the body use loop.item or loops.each" in errors[0]["message"]
    assert errors[1]["message"].endswith("loop.item is only defined inside the body of a Loop step, and this step is not in one")


def test_a_nested_loop_reads_the_outer_loop_by_key():
    nodes = [
        node("outer", "control.loop", {"items": "{{ trigger.groups }}"}),
        node("inner", "control.loop", {"items": "{{ loop.item.members }}"}),
        log("body", "{{ loops.outer.item.name }}/{{ loops.inner.item }} {{ loops.other.item }}"),
    ]
    edges = [edge("trigger", "outer"), edge("outer", "inner", "each"), edge("inner", "body", "each")]
    [error] = validate(graph_of(nodes, edges))
    assert error["expression"] == "loops.other.item" and "it runs inside 'outer', 'inner'" in error["message"]


def test_the_error_port_path_may_read_the_failed_step():
    nodes = [node("call", "util.transform", {"template": "x"}, on_error="error_port"), log("report", "{{ steps.call.error.message }}")]
    assert validate(graph_of(nodes, [edge("trigger", "call"), edge("call", "report", "error")])) == []


def test_the_dicts_own_methods_are_not_steps_but_a_step_named_like_one_is():
    nodes = [log("a", "{{ steps.keys() | list }} {{ steps.items() | list }} {{ steps.get('a') }}")]
    assert reference_errors(nodes, [edge("trigger", "a")]) == [("a", "config.message", "steps.get('a')")]  # its own output
    nodes = [node("items", "util.transform", {"template": "1"}), log("b", "{{ steps.items.output }}")]
    assert validate(graph_of(nodes, [edge("trigger", "items"), edge("items", "b")])) == []


# --- publishing and validating a saved draft ---------------------------------------------------------


@pytest.mark.django_db
def test_publishing_is_refused_with_every_bad_reference_and_nothing_is_published(world):
    nodes = [log("a", "{{ steps.typo.output }}"), log("b", "{{ steps.c.output }}"), log("c", "ok")]
    circuit = build(world, "refs", nodes, [edge("trigger", "a"), edge("a", "b"), edge("b", "c")], publish=False)
    draft = circuit.versions.get()
    assert [(e["node"], e["step"]) for e in validate_version(draft)] == [("a", "typo"), ("b", "c")]
    with pytest.raises(GraphInvalid) as refused:
        PublishDraft(world.tenant, world.owner, circuit).execute()
    assert [e["expression"] for e in refused.value.graph_errors] == ["steps.typo.output", "steps.c.output"]
    assert not CircuitVersion.objects.filter(circuit=circuit, status="published").exists()
    fixed = {"nodes": [log("a", "{{ trigger.x }}"), log("b", "{{ steps.a.output }}")], "edges": [edge("trigger", "a"), edge("a", "b")]}
    SaveDraft(world.tenant, world.owner, circuit, fixed).execute()
    assert PublishDraft(world.tenant, world.owner, circuit).execute().status == "published"
