"""The closed action registry: complete, valid, and printed by `manage.py actions --json`."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from jsonschema.validators import Draft202012Validator

from actions.sdk import Action, RegistryError, register, registry

REQUIRED = {
    "data": {"data.get_record", "data.get_records", "data.create_record", "data.update_record", "data.delete_record", "data.upsert_record"},
    "web": {"web.http_request", "web.scrape", "web.search_news"},
    "control": {"control.if", "control.switch", "control.parallel", "control.loop", "control.subcircuit", "control.stop"},
    "notify": {"notify.slack", "notify.email", "notify.inapp"},
    "util": {"util.log", "util.wait", "util.set_variable", "util.transform"},
}


def test_actions_json_lists_every_action_with_name_category_label_and_schema():
    out = StringIO()
    call_command("actions", "--json", stdout=out)
    listed = json.loads(out.getvalue())
    by_category: dict[str, set[str]] = {}
    for item in listed:
        assert {"name", "category", "label", "schema"} <= set(item)
        Draft202012Validator.check_schema(item["schema"])
        by_category.setdefault(item["category"], set()).add(item["name"])
    for category, names in REQUIRED.items():
        assert names <= by_category.get(category, set()), f"missing in {category}: {names - by_category.get(category, set())}"


@pytest.mark.parametrize("action", registry.all_actions(), ids=lambda a: a.name)
def test_every_config_property_has_a_title_or_description_for_the_form(action):
    for name, prop in action.schema.get("properties", {}).items():
        assert prop.get("title") or prop.get("description"), f"{action.name}.{name} has neither title nor description"


def _action(**attrs) -> type[Action]:
    base = {"name": "util.probe", "category": "util", "label": "Probe", "description": "d", "run": lambda self, ctx, config: None}
    return type("Probe", (Action,), {**base, **attrs})


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"name": "Bad Name"}, "must look like"),
        ({"category": "magic"}, "category"),
        ({"name": "web.probe"}, "must start with its category"),
        ({"label": ""}, "label and description"),
        ({"schema": {"type": "array"}}, "must describe an object"),
        ({"schema": {"type": "object", "properties": {"x": {"type": "nonsense"}}}}, "nonsense"),
        ({"name": "util.log"}, "registered twice"),
    ],
)
def test_registration_refuses_broken_actions(attrs, message):
    with pytest.raises((RegistryError, Exception), match=message):
        register(_action(**attrs))


BAD_CONFIGS = {
    "control.if": ({}, "condition"),
    "control.switch": ({"value": "x", "cases": [{"port": "default", "equals": 1}]}, "reserved"),
    "control.parallel": ({"branches": ["only"]}, "branches"),
    "control.loop": ({"max_iterations": 0}, "items"),
    "control.subcircuit": ({"circuit": ""}, "circuit"),
    "control.stop": ({"status": "maybe"}, "status"),
    "control.set_record_fields": ({"fields": {}}, "fields"),
    "control.reject_save": ({}, "message"),
    "util.log": ({"message": "x", "level": "loud"}, "level"),
    "util.wait": ({"seconds": 1, "until": "2030-01-01T00:00:00Z"}, "seconds"),
    "util.set_variable": ({"variables": {"1bad": 1}}, "variables"),
    "util.transform": ({}, "template"),
}


@pytest.mark.parametrize(("name", "case"), BAD_CONFIGS.items())
def test_control_and_util_actions_refuse_bad_configs_naming_the_field(name, case):
    config, field = case
    errors = registry.get(name).validate_config(config)
    assert errors and any(field in e for e in errors), errors
