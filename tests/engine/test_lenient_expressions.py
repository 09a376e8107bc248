"""A missing key is empty data, not an error (issue #9); what must stay an error still is.

- `trigger.company or 'x'`, `{% if trigger.title %}`, `| default`, `is defined`, printing,
  iterating and reading further in (`trigger.a.b.c`) all work on a payload without the key.
- A single expression's missing value is null; inside a list or dict too.
- Arithmetic, `< <= > >=`, signs and calls on a missing value fail, saying what is missing and
  how to give it a default; an unknown *name* (a typo such as `trigegr`) fails as before.
- Through the engine on PostgreSQL: conditions take their false port, a record field from a
  missing key is left out, arithmetic on one fails its step with an expression error.
"""

from __future__ import annotations

import pytest

from circuits.automation.engine.expressions import ExpressionError, check_value, render_value
from circuits.records.models import Record
from tests.engine.helpers import build, chain, edge, node, run, steps

TRIGGER = {"name": "Ada", "record": {"id": 7, "email": "ada@example.test"}, "items": [1, 2], "people": [{"email": "a@x.test"}, {}]}
DATA = {"trigger": TRIGGER, "steps": {}, "vars": {}}

LENIENT = [
    ("{{ trigger.company or 'no company' }}", "no company"),
    ("{% if trigger.title %}titled{% else %}untitled{% endif %}", "untitled"),
    ("{% if not trigger.record.phone %}no phone{% endif %}", "no phone"),
    ("{{ trigger.a.b.c }}", None),
    ("[{{ trigger.a.b.c }}]", "[]"),
    ("{{ trigger.a.b.c | default('fallback') }}", "fallback"),
    ("{{ trigger.a['b'].c | d('short') }}", "short"),
    ("{{ trigger.a.b is defined }}", False),
    ("{{ trigger.name is defined and trigger.nick is not defined }}", True),
    ("{% for x in trigger.missing %}{{ x }}{% else %}nothing{% endfor %}", "nothing"),
    ("{{ trigger.missing | length }} {{ len(trigger.missing) }}", "0 0"),
    ("{{ 'VP' in trigger.record.title }}", False),
    ("{{ trigger.record.title | upper }}|{{ trigger.record.title | lower | trim }}", "|"),
    ("{{ trigger.missing ~ '!' }}", "!"),
    ("{{ '%s' % trigger.missing }}|{{ '{}'.format(trigger.missing) }}", "|"),
    ("{{ trigger.missing | tojson }}", "null"),
    ("{{ {'company': trigger.record.company, 'id': trigger.record.id} }}", {"company": None, "id": 7}),
    ("{{ [trigger.record.company, [trigger.x]] }}", [None, [None]]),
    ("{{ trigger.people | map(attribute='email') | list }}", ["a@x.test", None]),
    ("{{ trigger.people | map(attribute='email') | select | join(', ') }}", "a@x.test"),
    ("{{ trigger.items[5] }}", None),
    ("{{ trigger.missing == 'x' }}", False),
    ("{{ trigger.record.score | int }} {{ trigger.record.score | int(-1) }} {{ trigger.record.score | float }}", "0 -1 0.0"),
    ("{{ (trigger.record.score or 0) >= 80 }}", False),
    ("{{ trigger.record.score | default(0) + 1 }}", 1),
    ("{{ trigger.update }} {{ trigger['pop'] }}", " "),  # a missing key named like a dict method is still just missing
    ("{{ steps.fetch.output.items }}", None),
]


@pytest.mark.parametrize(("template", "expected"), LENIENT, ids=[t for t, _ in LENIENT])
def test_a_missing_key_is_empty_and_false(template, expected):
    assert check_value(template) == []
    assert render_value(template, DATA) == expected


STILL_ERRORS = [
    ("{{ trigger.record.score + 1 }}", "the key 'score' is missing"),
    ("{{ 1 - trigger.record.score }}", "the key 'score' is missing"),
    ("{{ trigger.record.score * 2 }}", "the key 'score' is missing"),
    ("{{ trigger.record.score >= 80 }}", "the key 'score' is missing"),
    ("{{ trigger.a.b.c < 1 }}", "the key 'a' is missing"),
    ("{{ -trigger.record.score }}", "the key 'score' is missing"),
    ("{{ trigger.record.name.upper() }}", "the key 'name' is missing"),
    ("{{ trigger.missing() }}", "the key 'missing' is missing"),
    ("{{ '%d' % trigger.missing }}", "the key 'missing' is missing"),
    ("{{ trigger.missing | round }}", "the key 'missing' is missing"),
    ("{{ abs(trigger.missing) }}", "the key 'missing' is missing"),
    ("{{ trigger.items[9] + 1 }}", "there is no item 9"),
    ("{{ trigegr.name }}", "'trigegr' is undefined"),
    ("{{ trigegr.name or 'x' }}", "'trigegr' is undefined"),
    ("{% if stpes.a %}x{% endif %}", "'stpes' is undefined"),
]


@pytest.mark.parametrize(("template", "message"), STILL_ERRORS, ids=[t for t, _ in STILL_ERRORS])
def test_computing_with_a_missing_value_or_using_an_unknown_name_is_still_an_error(template, message):
    with pytest.raises(ExpressionError, match=message) as error:
        render_value(template, DATA)
    if "is missing" in message:
        assert "give it a default" in str(error.value)  # the message says how to fix it


def test_an_unknown_name_can_still_be_tested_and_defaulted():
    assert render_value("{{ loop is defined }}|{{ loop | default('outside') }}", DATA) == "False|outside"


@pytest.mark.parametrize(
    "template",
    [
        "{% set a = '__cla' ~ 'ss__' %}{{ trigger.missing | attr(a) }}",
        "{% set a = '_undefined_obj' %}{{ trigger.missing | attr(a) }}",
        "{% set a = '__cla' ~ 'ss__' %}{{ trigger.missing[a] }}",
        "{% set a = '__cla' ~ 'ss__' %}{{ trigger[a] }}",
        "{{ ('{0.' ~ '__class__}').format(trigger.missing) }}",
        "{{ ('{0.' ~ '_undefined_obj}').format(trigger.missing) }}",
        "{{ trigger.name.encode }}",
    ],
)
def test_a_missing_value_opens_no_way_into_the_interpreter(template):
    with pytest.raises(ExpressionError, match="refused by the sandbox"):
        render_value(template, DATA)


@pytest.mark.django_db
def test_in_a_real_execution_a_missing_key_takes_the_false_port_and_leaves_the_record_field_out(world):
    circuit = build(
        world,
        "lenient",
        [
            node("has_company", "control.if", {"condition": "{{ trigger.company }}"}),
            node("hot", "control.if", {"rules": [{"left": "{{ trigger.score }}", "op": "gt", "right": 80}]}),
            node("save", "data.create_record", {"object_type": "lead", "fields": {"email": "{{ trigger.email }}", "company": "{{ trigger.company }}"}}),
            node("nope", "util.log", {"message": "not reached"}),
        ],
        [
            *chain("has_company"),
            edge("has_company", "hot", "false"),
            edge("has_company", "nope", "true"),
            edge("hot", "save", "false"),
            edge("hot", "nope", "true"),
        ],
    )
    execution = run(circuit, {"email": "min@example.test"})
    assert execution.status == "succeeded", execution.error
    assert steps(execution) == {"has_company": "succeeded", "hot": "succeeded", "save": "succeeded"}
    record = Record.objects.get(pk=execution.steps.get(node_key="save").output["id"])
    assert "company" not in record.data and record.data["email"] == "min@example.test"


@pytest.mark.django_db
def test_in_a_real_execution_arithmetic_on_a_missing_key_fails_its_step_naming_the_key(world):
    circuit = build(world, "strict-math", [node("score", "util.transform", {"template": "{{ trigger.score + 10 }}"})], chain("score"))
    execution = run(circuit, {"email": "min@example.test"})
    assert execution.status == "failed"
    step = execution.steps.get(node_key="score")
    assert step.error["type"] == "expression"
    assert "the key 'score' is missing" in step.error["message"] and "trigger.score + 10" in step.error["message"]
