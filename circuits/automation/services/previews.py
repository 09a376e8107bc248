"""The expression editor's server side: render what a person types against real data.

The builder previews an expression (`{{ steps.score.output.score }}`) under the field it is
typed into, and completes `trigger.…`, `steps.<key>.output.…`, `vars.…` from the data of the
circuit's newest test run. Both read that data here: the run's trigger payload, each step's
result and the vars it ended with, with a node's pinned data in place of its result (a test
run would use it too). Only this circuit's executions in this tenant are read: a preview can
never reach another tenant's (or another circuit's) data, whatever the expression says.

Rendering goes through the engine's sandbox (`render_value`), uncached and on a short budget,
so typing is never more than a bounded, harmless render. Errors come back as data with a
kind and the span of the `{{ … }}` they are in, so the editor can underline them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Max

from circuits.automation.engine import graph as graphs
from circuits.automation.engine.expressions import Budget, ExpressionError, LimitError, render_value
from circuits.automation.engine.references import check_references, references
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, StepRun
from circuits.automation.models.version import CircuitVersion
from circuits.automation.services.versions import current_version

# One preview renders for at most this long (the engine's own limit may be lower).
PREVIEW_SECONDS = 1.0
# A preview's value is cut to this many characters of JSON: it is shown under a field.
PREVIEW_MAX_CHARS = 20_000
# Completion paths: how deep into the data, and how many at most.
PATH_DEPTH = 6
MAX_PATHS = 1_000
_SAMPLE_CHARS = 60
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


@dataclass
class PreviewData:
    """What an expression sees in a preview, and where it came from."""

    context: dict
    execution: Execution | None
    version: CircuitVersion | None
    graph: graphs.Graph | None


def _step_results(execution: Execution | None) -> dict[str, dict]:
    """steps.<key> as the run left them: the last attempt of each step (its last loop iteration)."""
    if execution is None:
        return {}
    results: dict[str, dict] = {}
    # Only each step's newest row is read: a loop's body can leave thousands of rows behind.
    newest = execution.steps.values("node_key").annotate(newest=Max("pk")).values("newest")
    rows = StepRun.objects.filter(pk__in=newest).order_by("pk").values_list("node_key", "output", "status", "port", "error")
    for node_key, output, status, port, error in rows:
        results[node_key] = {"output": output, "status": status, "port": port, **({"error": error} if error else {})}
    return results


def preview_data(tenant, circuit: Circuit) -> PreviewData:
    """The context of the circuit's newest test run (pinned data in place of results)."""
    execution = Execution.objects.for_tenant(tenant).filter(circuit=circuit, is_test=True).select_related("version").order_by("-pk").first()
    version = current_version(circuit)
    graph = graphs.from_version(version) if version is not None else None
    steps = _step_results(execution)
    for key, node in (graph.nodes if graph else {}).items():
        if isinstance(node.pinned, dict) and "output" in node.pinned:
            steps[key] = {"output": node.pinned.get("output"), "status": "succeeded", "port": node.pinned.get("port") or "next"}
    context = {
        "trigger": execution.input if execution else {},
        "steps": steps,
        "vars": dict(execution.vars or {}) if execution else {},
        "tenant": {"id": tenant.pk, "slug": tenant.slug, "name": tenant.name},
        "execution": {
            "id": execution.pk if execution else None,
            "circuit": circuit.slug,
            "version": execution.version.number if execution else (version.number if version else None),
            "trigger_type": execution.trigger_type if execution else "manual",
            "is_test": True,
        },
    }
    return PreviewData(context, execution, version, graph)


# --- errors with a place ---------------------------------------------------------------------


@dataclass
class PreviewError:
    message: str
    kind: str  # syntax, sandbox, unknown_step, step_order, scope (loop outside a Loop), undefined, limit, evaluation
    start: int  # character offsets into the expression: the `{{ … }}` the error is in
    end: int
    line: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _kind(exc: ExpressionError) -> str:
    text = str(exc)
    if isinstance(exc, LimitError):
        return "limit"
    if text.startswith("refused by the sandbox"):
        return "sandbox"
    if text.startswith(("invalid expression", "invalid template", "the template is nested")):
        return "syntax"
    if "is undefined" in text:
        return "undefined"
    return "evaluation"


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _span(source: str, fails) -> tuple[int, int]:
    """The first `{{ … }}` / `{% … %}` block for which `fails(block)` is true; else the whole text."""
    for match in _BLOCK.finditer(source):
        if match.group(0).startswith("{{") and fails(match.group(0)):
            return match.start(), match.end()
    unclosed = source.find("{{")
    if unclosed >= 0 and "}}" not in source[unclosed:]:
        return unclosed, len(source)
    return 0, len(source)


def _error(source: str, message: str, kind: str, start: int, end: int) -> PreviewError:
    return PreviewError(message=message, kind=kind, start=start, end=end, line=_line(source, start))


def _step_problems(source: str, data: PreviewData, node: str | None) -> PreviewError | None:
    """A read of a step that cannot have run before `node` (or that no step of the draft is)."""
    graph = data.graph
    if graph is None:
        known: set[str] = set(data.context["steps"])
        problems = [(ref, f"reads step {ref.key!r}, which does not exist") for ref in references(source) if ref.name == "steps" and ref.key not in known]
    elif node is not None and node in graph.nodes:
        # The reference check of validation, on a copy of the graph whose node holds this source.
        probe = dataclasses.replace(graph.nodes[node], config={"expression": source})
        found = check_references(graphs.Graph(nodes={**graph.nodes, node: probe}, edges=list(graph.edges)))
        by_text = {ref.text: ref for ref in references(source)}
        problems = [
            (by_text[p["expression"]], p["message"].split(f"{p['expression']} ", 1)[-1]) for p in found if p["node"] == node and p["expression"] in by_text
        ]
    else:
        problems = [
            (ref, f"reads step {ref.key!r}, which does not exist")
            for ref in references(source)
            if ref.name == "steps" and ref.key not in graph.nodes and ref.key not in data.context["steps"]
        ]
    if not problems:
        return None
    ref, why = problems[0]
    at = source.find(ref.text)
    start, end = (at, at + len(ref.text)) if at >= 0 else _span(source, lambda block: ref.text in block)
    kind = "scope" if ref.name in ("loop", "loops") else "unknown_step" if "does not exist" in why else "step_order"
    return _error(source, f"{ref.text} {why}", kind, start, end)


# --- the preview ------------------------------------------------------------------------------


def _budget() -> Budget:
    return Budget(max_seconds=min(PREVIEW_SECONDS, float(getattr(settings, "EXPRESSION_MAX_SECONDS", 2.0))))


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def preview(source: str, data: PreviewData, node: str | None = None) -> dict:
    """{value, type[, truncated]} or {error: {message, kind, start, end, line}}."""
    problem = _step_problems(source, data, node)
    if problem is not None:
        return {"error": problem.as_dict()}
    try:
        value = render_value(source, data.context, budget=_budget(), cached=False)
    except ExpressionError as exc:
        kind = _kind(exc)

        def fails(block: str) -> bool:
            try:
                render_value(block, data.context, budget=_budget(), cached=False)
            except ExpressionError:
                return True
            return False

        start, end = _span(source, fails)
        return {"error": _error(source, str(exc), kind, start, end).as_dict()}
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)  # JSON has no NaN: show it as the text it would print as
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > PREVIEW_MAX_CHARS:
        return {"value": text[:PREVIEW_MAX_CHARS], "type": json_type(value), "truncated": True}
    return {"value": json.loads(text), "type": json_type(value)}


# --- completion: the paths the data really has --------------------------------------------------


def _join(base: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{base}.{key}"
    return f"{base}[{json.dumps(key, ensure_ascii=False)}]"


def _sample(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SAMPLE_CHARS else text[: _SAMPLE_CHARS - 1] + "…"


def _walk(base: str, value: Any, depth: int, out: list[dict]) -> None:
    if len(out) >= MAX_PATHS:
        return
    entry = {"path": base, "type": json_type(value)}
    if not isinstance(value, dict | list):
        entry["sample"] = _sample(value)
    out.append(entry)
    if depth >= PATH_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(_join(base, str(key)), item, depth + 1, out)
    elif isinstance(value, list) and value:
        _walk(_join(base, 0), value[0], depth + 1, out)  # one item stands for the list


def upstream_steps(data: PreviewData, node: str | None) -> list[str]:
    """The steps whose output `node` can read (all steps of the run when no node is named)."""
    keys = list(data.context["steps"])
    graph = data.graph
    if node is None or graph is None or node not in graph.nodes:
        return keys
    probes = {f"s{i}": f"{{{{ steps[{json.dumps(k)}] }}}}" for i, k in enumerate(keys)}
    probe = dataclasses.replace(graph.nodes[node], config=probes)
    bad = {p["step"] for p in check_references(graphs.Graph(nodes={**graph.nodes, node: probe}, edges=list(graph.edges))) if p["node"] == node}
    return [k for k in keys if k not in bad]


def completion_paths(data: PreviewData, node: str | None = None) -> list[dict]:
    """Every path of trigger, steps.<key>.output and vars in the data, with its type and a sample."""
    out: list[dict] = []
    _walk("trigger", data.context["trigger"], 0, out)
    for key in upstream_steps(data, node):
        _walk(_join(_join("steps", key), "output"), data.context["steps"][key].get("output"), 0, out)
    _walk("vars", data.context["vars"], 0, out)
    return out[:MAX_PATHS]
