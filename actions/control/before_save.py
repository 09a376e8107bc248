"""Actions for before-save circuits: change the record being saved, or refuse the save."""

from __future__ import annotations

from typing import Any

from actions.sdk import Action, ActionError, Context, Stop, register


def _require_before_save(ctx: Context) -> None:
    if ctx.execution is not None and ctx.execution.trigger_type != "before_save":
        raise ActionError("this action only works in a circuit started by a before-save trigger")


@register
class SetRecordFields(Action):
    name = "control.set_record_fields"
    category = "control"
    label = "Set Fields on the Record Being Saved"
    description = "In a before-save circuit: sets fields on the record before it is saved (like an Apex before trigger)."
    side_effects = False
    schema = {
        "type": "object",
        "required": ["fields"],
        "properties": {"fields": {"type": "object", "minProperties": 1, "title": "Fields", "description": "Field → value (templates allowed)."}},
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "properties": {"fields": {"type": "object"}}}

    def run(self, ctx: Context, config: dict) -> Any:
        _require_before_save(ctx)
        # A null value (what a template reading a missing key renders) leaves the field as it is being saved; "" clears it.
        given = {name: value for name, value in config["fields"].items() if value is not None}
        merged = {**ctx.data.get("vars", {}).get("record_fields", {}), **given}
        ctx.set_var("record_fields", merged)
        return {"fields": given}

    @classmethod
    def replay(cls, data: dict, output: Any) -> None:
        vars_ = data.setdefault("vars", {})
        vars_["record_fields"] = {**vars_.get("record_fields", {}), **(output or {}).get("fields", {})}


@register
class RejectSave(Action):
    name = "control.reject_save"
    category = "control"
    label = "Reject the Save"
    description = "In a before-save circuit: refuses the save with a validation message shown to the user."
    side_effects = False
    schema = {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string", "minLength": 1, "title": "Validation message"}},
        "additionalProperties": False,
    }
    output_schema = {"type": "object", "properties": {"rejected": {"type": "string"}}}

    def run(self, ctx: Context, config: dict) -> Stop:
        _require_before_save(ctx)
        return Stop(status="failed", output={"rejected": config["message"]}, message=config["message"])
