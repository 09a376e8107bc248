"""Every domain models module, gathered for Django (app label `circuits`): import models from their domain module, not from here."""

from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import FINISHED, Execution, ExecutionStatus, StepRun, StepStatus
from circuits.automation.models.trigger import CustomEventType, Event, ThresholdState, Trigger
from circuits.automation.models.version import FROZEN_STATUSES, CircuitVersion, Edge, Node, OnError, PublishedVersionImmutable, VersionStatus
from circuits.records.models import ObjectType, Record, RecordChange
from circuits.tenancy.models.access import ApiKey, Credential, CredentialKind
from circuits.tenancy.models.audit import AuditEntry
from circuits.tenancy.models.effects import AppliedWrite
from circuits.tenancy.models.notifications import InboxMessage, Notification, NotificationRead
from circuits.tenancy.models.tenants import Invitation, Membership, Tenant

__all__ = [
    "FINISHED",
    "FROZEN_STATUSES",
    "ApiKey",
    "AppliedWrite",
    "AuditEntry",
    "Circuit",
    "CircuitVersion",
    "Credential",
    "CredentialKind",
    "CustomEventType",
    "Edge",
    "Event",
    "Execution",
    "ExecutionStatus",
    "InboxMessage",
    "Invitation",
    "Membership",
    "Node",
    "Notification",
    "NotificationRead",
    "ObjectType",
    "OnError",
    "PublishedVersionImmutable",
    "Record",
    "RecordChange",
    "StepRun",
    "StepStatus",
    "Tenant",
    "ThresholdState",
    "Trigger",
    "VersionStatus",
]
