"""The "on failure" policy: its shape, its validation inside one tenant, and which one applies.

Stored as JSON on the circuit (`Circuit.on_failure`; None = the tenant's default) and on the
tenant (`Tenant.on_failure`, the default; {} = nothing):

    {
      "notify": ["owner", "admins", "editors", "ann"],   # in-app: groups of members, or usernames
      "emails": ["ann@acme.test"],                       # members' addresses (never anyone else's)
      "slack": "ops-alerts",                             # a slack_webhook credential of the tenant
      "error_circuit": "on-error",                       # a circuit of the tenant, not this one
      "digest_minutes": 15                               # one alert per window (0 = every failure)
    }

Names are checked when the policy is saved and resolved again when a failure is delivered,
so a member who left, a deleted credential or circuit is skipped (and logged), never used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from circuits.automation.models.circuit import Circuit
from circuits.automation.notifications import resolve_members
from circuits.core.numbers import finite_number
from circuits.tenancy.models.access import Credential, CredentialKind

FIELDS = ("notify", "emails", "slack", "error_circuit", "digest_minutes")
GROUPS = ("owner", "admins", "editors")  # the circuit's owner; owners and admins of the tenant; its editors
DEFAULT_DIGEST_MINUTES = 15
MAX_DIGEST_MINUTES = 24 * 60
MAX_RECIPIENTS = 50


@dataclass(frozen=True)
class Policy:
    notify: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    slack: str = ""
    error_circuit: str = ""
    digest_minutes: int = DEFAULT_DIGEST_MINUTES
    source: str = field(default="none", compare=False)  # "circuit", "tenant" or "none": where it came from

    @property
    def alerts(self) -> bool:
        return bool(self.notify or self.emails or self.slack)


def _names(value: Any, what: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")  # a form's text box: "ann, bob"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"a list of {what}")
    names = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(names) > MAX_RECIPIENTS:
        raise ValueError(f"at most {MAX_RECIPIENTS} {what}")
    return names


def clean(tenant, raw: Any, *, circuit: Circuit | None = None, field_name: str = "on_failure") -> dict | None:
    """The policy cleaned for storing, or None (for a circuit: use the tenant's default).

    Raises ValidationError({field_name: ["<part>: what is wrong"]}) naming the part, with
    every problem at once; another tenant's member, credential or circuit is "not found
    in this tenant", exactly like one that does not exist.
    """
    if raw is None:
        if circuit is None:
            return {}  # the tenant default: nothing
        return None
    if not isinstance(raw, dict):
        raise ValidationError({field_name: ["An object with notify, emails, slack, error_circuit and/or digest_minutes (or null for the default)."]})
    problems: list[str] = []
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        problems.append(f"{unknown[0]}: unknown setting (known: {', '.join(FIELDS)})")
    cleaned: dict[str, Any] = {}

    try:
        notify = _names(raw.get("notify"), "groups or usernames")
        usernames = [n for n in notify if n not in GROUPS]
        if any("@" in n for n in usernames):
            raise ValueError("name members by username (addresses go under emails)")
        _, missing = resolve_members(tenant, usernames)
        if missing:
            verb = "is not a member" if len(missing) == 1 else "are not members"
            raise ValueError(f"{', '.join(missing)} {verb} of this tenant (or use {', '.join(GROUPS)})")
        if notify:
            cleaned["notify"] = notify
    except ValueError as exc:
        problems.append(f"notify: {exc}")

    try:
        emails = _names(raw.get("emails"), "e-mail addresses")
        if any("@" not in e for e in emails):
            raise ValueError(f"{next(e for e in emails if '@' not in e)!r} is not an e-mail address")
        _, missing = resolve_members(tenant, emails)
        if missing:
            raise ValueError(f"{', '.join(missing)} {'is not the address' if len(missing) == 1 else 'are not addresses'} of a member of this tenant")
        if emails:
            cleaned["emails"] = emails
    except ValueError as exc:
        problems.append(f"emails: {exc}")

    slack = raw.get("slack")
    if slack not in (None, ""):
        if not isinstance(slack, str):
            problems.append("slack: the name of a Slack webhook credential")
        else:
            credential = Credential.objects.for_tenant(tenant).filter(name=slack.strip()).first()
            if credential is None:
                problems.append(f"slack: no credential named {slack.strip()!r} in this tenant")
            elif credential.kind != CredentialKind.SLACK_WEBHOOK:
                problems.append(f"slack: credential {credential.name!r} is a {credential.kind}, not a {CredentialKind.SLACK_WEBHOOK}")
            else:
                cleaned["slack"] = credential.name

    target = raw.get("error_circuit")
    if target not in (None, ""):
        if not isinstance(target, str):
            problems.append("error_circuit: the slug of a circuit")
        else:
            found = Circuit.objects.for_tenant(tenant).filter(slug=target.strip()).first()
            if found is None:
                problems.append(f"error_circuit: no circuit {target.strip()!r} in this tenant")
            elif circuit is not None and found.pk == circuit.pk:
                problems.append("error_circuit: a circuit cannot be its own error circuit")
            else:
                cleaned["error_circuit"] = found.slug

    minutes = raw.get("digest_minutes")
    if minutes not in (None, ""):
        try:
            cleaned["digest_minutes"] = int(finite_number(minutes, integer=True, minimum=0, maximum=MAX_DIGEST_MINUTES))
        except ValueError as exc:
            problems.append(f"digest_minutes: {exc} (whole minutes from 0 to {MAX_DIGEST_MINUTES}; 0 alerts every failure)")

    if problems:
        raise ValidationError({field_name: problems})
    return cleaned


def _policy(stored: dict, source: str) -> Policy:
    minutes = stored.get("digest_minutes")
    return Policy(
        notify=tuple(stored.get("notify") or ()),
        emails=tuple(stored.get("emails") or ()),
        slack=stored.get("slack") or "",
        error_circuit=stored.get("error_circuit") or "",
        digest_minutes=DEFAULT_DIGEST_MINUTES if minutes is None else int(minutes),
        source=source,
    )


def policy_for(circuit: Circuit) -> Policy:
    """The circuit's own policy if it has one, else its tenant's default."""
    if isinstance(circuit.on_failure, dict):
        return _policy(circuit.on_failure, "circuit")
    default = circuit.tenant.on_failure
    if isinstance(default, dict) and default:
        return _policy(default, "tenant")
    return Policy(source="none")
