from circuits.models.circuit import Circuit
from circuits.models.execution import FINISHED, AppliedWrite, Execution, ExecutionStatus, StepRun, StepStatus
from circuits.models.misc import ApiKey, Credential, CredentialKind, InboxMessage, Notification, NotificationRead
from circuits.models.records import ObjectType, Record, RecordChange
from circuits.models.tenancy import Invitation, Membership, Tenant
from circuits.models.trigger import CustomEventType, Event, ThresholdState, Trigger
from circuits.models.version import FROZEN_STATUSES, CircuitVersion, Edge, Node, OnError, PublishedVersionImmutable, VersionStatus

__all__ = [
    "FINISHED",
    "FROZEN_STATUSES",
    "ApiKey",
    "AppliedWrite",
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
