"""The built-in platform event catalogue (tenants add their own as CustomEventType)."""

from __future__ import annotations

from circuits.automation.models.trigger import CustomEventType
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


def catalogue(tenant: Tenant) -> list[dict]:
    entries = [{"name": name, "description": text, "builtin": True} for name, text in BUILTIN_EVENTS.items()]
    entries += [{"name": c.name, "description": c.description, "builtin": False} for c in CustomEventType.objects.for_tenant(tenant)]
    return sorted(entries, key=lambda e: e["name"])


def is_known(tenant: Tenant, name: str) -> bool:
    if name in BUILTIN_EVENTS:
        return True
    return CustomEventType.objects.for_tenant(tenant).filter(name=name).exists()
