"""The platform event catalogue: built-in events, the record events of every object type the
tenant has, and the tenant's own names (CustomEventType).

A name outside it is refused where a person types one — publishing an event, saving a trigger
on one — with the close matches named, so a typo is caught at once instead of never firing.
"""

from __future__ import annotations

import difflib

from django.core.exceptions import ValidationError

from circuits.automation.models.trigger import CustomEventType
from circuits.records.types import list_types
from circuits.tenancy.models.tenants import Tenant

BUILTIN_EVENTS: dict[str, str] = {
    "lead.created": "A lead record was created.",
    "lead.updated": "A lead record was updated.",
    "lead.deleted": "A lead record was deleted.",
    "lead.score_changed": "A lead's score changed.",
    "lead.converted": "A lead's status became 'converted'.",
    "account.created": "An account record was created.",
    "account.updated": "An account record was updated.",
    "contact.created": "A contact record was created.",
    "contact.updated": "A contact record was updated.",
    "opportunity.created": "An opportunity record was created.",
    "opportunity.updated": "An opportunity record was updated.",
    "opportunity.stage_changed": "An opportunity moved to another stage.",
    "opportunity.won": "An opportunity reached 'closed_won'.",
    "opportunity.lost": "An opportunity reached 'closed_lost'.",
    "task.created": "A task record was created.",
    "email.received": "An e-mail arrived for the tenant.",
    "form.submitted": "A web form was submitted.",
    "meeting.booked": "A meeting was booked.",
    "ticket.created": "A support ticket was opened.",
    "invoice.paid": "An invoice was paid.",
    "invoice.overdue": "An invoice became overdue.",
    "subscription.cancelled": "A customer cancelled a subscription.",
    "usage.dropped": "A customer's product usage dropped.",
    "competitor.detected": "A competitor was mentioned or detected.",
    "news.published": "A news item of interest was published.",
    "execution.failed": "An execution of any circuit failed.",
    "execution.succeeded": "An execution of any circuit succeeded.",
}


def derived_events(object_type: str, operation: str, old: dict, new: dict) -> list[str]:
    """The catalogue events a record write publishes, in order: "<type>.<operation>" first."""
    names = [f"{object_type}.{operation}"]
    if operation != "updated":
        return names
    if object_type == "lead":
        if old.get("score") != new.get("score"):
            names.append("lead.score_changed")
        if new.get("status") == "converted" and old.get("status") != "converted":
            names.append("lead.converted")
    if object_type == "opportunity" and old.get("stage") != new.get("stage"):
        names.append("opportunity.stage_changed")
        if new.get("stage") == "closed_won":
            names.append("opportunity.won")
        elif new.get("stage") == "closed_lost":
            names.append("opportunity.lost")
    return names


# Every record write publishes "<type>.<operation>" (derived_events), custom types included.
RECORD_OPERATIONS = ("created", "updated", "deleted")
CLOSE_MATCHES = 3


def catalogue(tenant: Tenant) -> list[dict]:
    builtin = dict(BUILTIN_EVENTS)
    for object_type in list_types(tenant):
        for operation in RECORD_OPERATIONS:
            builtin.setdefault(f"{object_type.slug}.{operation}", f"A {object_type.label.lower()} record was {operation}.")
    entries = [{"name": name, "description": text, "builtin": True} for name, text in builtin.items()]
    entries += [{"name": c.name, "description": c.description, "builtin": False} for c in CustomEventType.objects.for_tenant(tenant)]
    return sorted(entries, key=lambda e: e["name"])


def known_names(tenant: Tenant) -> list[str]:
    return [entry["name"] for entry in catalogue(tenant)]


def unknown_event_message(tenant: Tenant, name: str) -> str | None:
    """None when `name` is in the tenant's catalogue; else what is wrong and the closest names."""
    names = known_names(tenant)
    if name in names:
        return None
    close = difflib.get_close_matches(name, names, n=CLOSE_MATCHES, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"{name!r} is not in the event catalogue (GET /api/v1/events).{hint} A new name must first be defined as a custom event."


def require_known(tenant: Tenant, name: str, *, field: str = "event") -> None:
    message = unknown_event_message(tenant, name)
    if message is not None:
        raise ValidationError({field: message})
