"""What every trigger kind is, and the matching and starting they share.

A kind is a class registered with `@register` (circuits/automation/triggers/registry.py): its `type`
(the string stored in Trigger.type), label, description, the JSON Schema of its config,
which config field is its matching key, extra validation, what it derives on save, and how
it fires — the reaction hooks below, called by circuits/automation/triggers/hooks.py for every kind
when the record store or the engine signals something. A kind that does not react to a
signal keeps the default (nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from circuits.automation.dispatch import ChainTooDeep, NotRunnable, create_execution, create_executions, enqueue, enqueue_many
from circuits.automation.engine.expressions import ExpressionError, render_value
from circuits.automation.models.execution import Execution
from circuits.automation.models.trigger import Event, Trigger
from circuits.automation.models.version import VersionStatus
from circuits.tenancy.models.tenants import Tenant

if TYPE_CHECKING:
    from django.db.models import QuerySet

log = logging.getLogger(__name__)

CONDITION_SCHEMA = {"type": "string", "title": "Condition", "description": "Expression; the trigger fires only when it is true."}
OBJECT_TYPE_SCHEMA = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$", "title": "Object type"}


@dataclass
class RecordChange:
    """One committed record write, as the record hooks see it (built once per write)."""

    tenant: Tenant
    record_id: int
    object_type: str
    operation: str
    old: dict
    new: dict
    changes: dict
    cause: Execution | None  # the execution whose step wrote the record
    payload: dict
    # The first platform event the write published (record-change triggers link to it); set by
    # circuits/automation/triggers/hooks.py before any kind reacts.
    event: Event | None = None
    started: list[Execution] = field(default_factory=list)

    @property
    def source_circuit(self) -> int | None:
        # A circuit does not re-trigger itself directly through the records it writes.
        return self.cause.circuit_id if self.cause is not None else None


class TriggerKind:
    type: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    schema: ClassVar[dict] = {}
    # The config field whose value is the indexed matching key (tenant, type, key); None: "".
    key_field: ClassVar[str | None] = None
    # Where the kind appears in pickers (lower first).
    order: ClassVar[int] = 100

    @classmethod
    def key(cls, config: dict) -> str:
        return str(config[cls.key_field]) if cls.key_field else ""

    @classmethod
    def check(cls, config: dict) -> list[str]:
        """Checks beyond the schema (which has passed): "config.<field>: message" strings."""
        return []

    @classmethod
    def check_in_tenant(cls, tenant: Tenant, config: dict) -> list[str]:
        """Checks that read the tenant's data (its event catalogue), once check() has passed."""
        return []

    @classmethod
    def prepare(cls, trigger: Trigger) -> None:
        """Derive the kind's own fields before save (webhook token, next run)."""

    # --- what an execution it starts receives as `trigger` (shown in the builder) --------
    payload_help: ClassVar[str] = ""

    @classmethod
    def sample_payload(cls, config: dict) -> dict | None:
        """A payload of the shape this kind starts executions with (a test run's default)."""
        return None

    # --- how it fires: reactions to what the record store and the engine signal ----------

    @classmethod
    def before_record_save(cls, tenant: Tenant, object_type: str, operation: str, fields: dict, old: dict | None, record_id: int | None) -> None:
        """Inside the write's transaction: change `fields` in place, or raise ValidationError."""

    @classmethod
    def on_record_changed(cls, change: RecordChange) -> list[Execution]:
        return []

    @classmethod
    def on_execution_finished(cls, execution: Execution, payload: dict) -> list[Execution]:
        return []


def matching(tenant_id: int, type_: str, key: str) -> QuerySet[Trigger]:
    """Enabled triggers of enabled, published circuits of that tenant only, by the indexed key."""
    return (
        Trigger.objects.filter(tenant_id=tenant_id, type=type_, key=key, enabled=True, circuit__enabled=True)
        .filter(circuit__versions__status=VersionStatus.PUBLISHED)
        .select_related("circuit")
        .order_by("pk")
    )


def with_published_version(triggers: QuerySet[Trigger]) -> QuerySet[Trigger]:
    """`matching()` plus each trigger's published version id (what `start_many` creates executions on)."""
    from django.db.models import OuterRef, Subquery

    from circuits.automation.models.version import CircuitVersion

    published = CircuitVersion.objects.filter(circuit_id=OuterRef("circuit_id"), status=VersionStatus.PUBLISHED).values("pk")[:1]
    return triggers.annotate(published_version_id=Subquery(published))


def as_expression(condition: str) -> str:
    return condition if "{{" in condition else "{{ " + condition + " }}"


def condition_holds(trigger: Trigger, context: dict[str, Any]) -> bool:
    condition = (trigger.config or {}).get("condition")
    if not condition:
        return True
    try:
        return bool(render_value(as_expression(condition), context))
    except ExpressionError:
        log.warning("trigger %s: condition failed to evaluate; not firing", trigger.pk, exc_info=True)
        return False


def start(
    trigger: Trigger,
    payload: dict,
    *,
    event: Event | None = None,
    parent: Execution | None = None,
    caused_by: Execution | None = None,
    kind: str | None = None,
) -> Execution | None:
    """Start the trigger's circuit; None when it cannot run or the chain it would extend is too long.

    A refused start is recorded as a failed execution (see circuits/automation/lineage.py); the
    write or event that fired the trigger stands.
    """
    try:
        execution = create_execution(trigger.circuit, payload, trigger=trigger, event=event, parent=parent, caused_by=caused_by)
    except ChainTooDeep as refused:
        log.warning("trigger %s: %s", trigger.pk, refused)
        return None
    except NotRunnable:
        return None
    enqueue(execution, kind)
    return execution


def start_many(
    triggers: list[Trigger],
    payload: dict,
    *,
    event: Event | None = None,
    parent: Execution | None = None,
    caused_by: Execution | None = None,
    kind: str = "default",
) -> list[Execution]:
    """`start` for many triggers fired by one cause: one bulk INSERT and one message for them all.

    The triggers come from `with_published_version(matching(...))`; none is started when the
    chain they would extend is too long (each refusal recorded, as `start` does).
    """
    executions = create_executions(triggers, payload, event=event, parent=parent, caused_by=caused_by)
    enqueue_many(executions, kind)
    return executions
