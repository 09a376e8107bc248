"""Test runs of a circuit's draft: the whole draft with a payload, or one node alone.

The builder, the API and any later caller share these services (check()/execute(), atomic,
RUN checked on the circuit so an object grant counts). A test run never runs inside the
request: the execution is queued and a worker runs it (live updates on the execution's
socket group, like every other run).

(Not called test_*.py: pytest would collect it as a test module.)
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from circuits.automation.dispatch import NotRunnable, create_execution, enqueue
from circuits.automation.engine import graph as graphs
from circuits.automation.engine.expressions import templates_in
from circuits.automation.engine.references import references
from circuits.automation.engine.runner import PINNED
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, StepRun, StepStatus
from circuits.automation.services.executions import StartExecution
from circuits.automation.services.versions import GraphInvalid, current_version, validate_version
from circuits.tenancy.roles import Perm
from circuits.tenancy.services.base import Service

GIVEN = "given"  # on the log entry of an upstream result the caller sent for a node run alone
_SOURCES = {PINNED: "pinned data", GIVEN: "input sent with the run"}


class StartTestRun(StartExecution):
    """A test run of the draft (else the published version) with `payload` as the trigger's data."""

    def __init__(self, tenant, actor, circuit: Circuit, payload: Any, *, trigger_type: str = "manual"):
        super().__init__(tenant, actor, circuit, payload, test=True, trigger_type=trigger_type)

    def validate(self) -> None:
        if not isinstance(self.payload, dict):
            raise ValidationError({"payload": "The test payload must be a JSON object."})
        super().validate()


def read_steps(config: Any) -> list[str]:
    """The step keys a node's templates read (`steps.<key>…`), in order, each once."""
    keys: list[str] = []
    for _where, source in templates_in(config, "config"):
        for ref in references(source):
            if ref.name == "steps" and ref.key and ref.key not in keys:
                keys.append(ref.key)
    return keys


def last_test_input(circuit: Circuit) -> dict:
    """The trigger payload of the circuit's latest test run ({} if it never had one)."""
    last = circuit.executions.filter(is_test=True).order_by("-pk").only("input").first()
    return last.input if last is not None and isinstance(last.input, dict) else {}


class RunNodeAlone(Service):
    """A test execution of ONE node of the draft: only that node runs (Execution.only_node).

    What the node reads of earlier steps comes from `steps` (key → output, sent by the caller)
    or else from those steps' pinned data; both are copied into the execution as finished
    steps, so the engine reads them as if they had run. The trigger's data is `trigger`, else
    the payload of the latest test run. A step the node reads with neither is refused with a
    400 naming it (nothing is created): the run would silently read nothing.
    """

    audit_action = "execution.node_run"
    audit_fields = ("id", "circuit", "version", "status", "only_node", "trigger_type", "is_test", "started_by")
    perm = Perm.RUN
    denied_message = "You cannot run this circuit."

    def __init__(
        self,
        tenant,
        actor,
        circuit: Circuit,
        node: str,
        *,
        trigger: dict | None = None,
        steps: dict[str, Any] | None = None,
        vars: dict | None = None,
    ):
        super().__init__(tenant, actor)
        self.circuit = circuit
        self.node = node
        self.trigger = trigger
        self.steps = steps or {}
        self.vars = vars or {}

    def permission_object(self):
        return self.circuit

    def validate(self) -> None:
        version = current_version(self.circuit)
        if version is None:
            raise ValidationError({"circuit": "The circuit has no version to test yet."})
        graph = graphs.from_version(version)
        spec = graph.nodes.get(self.node)
        if spec is None:
            raise ValidationError({"node": f"There is no step {self.node!r} in the current draft."})
        if spec.action_class is None:
            raise ValidationError({"node": f"Step {self.node!r} uses an unknown action {spec.action!r}."})
        if spec.action_class.container:
            raise ValidationError({"node": f"Step {self.node!r} is a loop or parallel block: it runs with its body, test the whole circuit."})
        # Only this node's own problems stop it; the rest of the draft may be half-built.
        own = [e for e in validate_version(version) if e.get("node") == self.node]
        if own:
            raise GraphInvalid(own)
        if self.trigger is not None and not isinstance(self.trigger, dict):
            raise ValidationError({"trigger": "The trigger payload must be a JSON object."})
        if not isinstance(self.steps, dict):
            raise ValidationError({"steps": "steps maps a step key to its output."})
        if not isinstance(self.vars, dict):
            raise ValidationError({"vars": "vars must be a JSON object."})
        unknown = sorted(k for k in self.steps if k not in graph.nodes or k == self.node)
        if unknown:
            raise ValidationError({"steps": f"No other step {', '.join(map(repr, unknown))} in the current draft."})
        results: list[tuple[graphs.NodeSpec, Any, str, str]] = []  # (node, output, port, where from)
        missing = []
        for key in read_steps(spec.config):
            other = graph.nodes.get(key)
            if other is None or key == self.node:
                continue  # a typo is a validation error above; its own output is not an input
            if key in self.steps:
                results.append((other, self.steps[key], "next", GIVEN))
            elif isinstance(other.pinned, dict) and "output" in other.pinned:
                results.append((other, other.pinned.get("output"), other.pinned.get("port") or "next", PINNED))
            else:
                missing.append(key)
        if missing:
            names = ", ".join(repr(k) for k in missing)
            raise ValidationError({"steps": f"Step {self.node!r} reads {names}, which has no pinned data: pin its output, or send it as steps.{missing[0]}."})
        self.version, self.results = version, results

    def perform(self) -> Execution:
        payload = self.trigger if self.trigger is not None else last_test_input(self.circuit)
        try:
            execution = create_execution(self.circuit, payload, version=self.version, started_by=self.actor, is_test=True)
        except NotRunnable as exc:
            raise ValidationError({"circuit": str(exc)}) from None
        execution.only_node, execution.vars = self.node, self.vars
        execution.save(update_fields=["only_node", "vars"])
        now = timezone.now()
        StepRun.objects.bulk_create(
            StepRun(
                execution=execution,
                node_key=node.key,
                action=node.action,
                status=StepStatus.SUCCEEDED,
                port=port,
                output=output,
                logs=[{"level": "info", "message": f"{_SOURCES[source]} used: the step did not run", source: True}],
                started_at=now,
                finished_at=now,
                duration_ms=0,
            )
            for node, output, port, source in self.results
        )
        enqueue(execution)
        return execution
