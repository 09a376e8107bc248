"""Tenant credentials, encrypted at rest with Fernet.

The key comes from CREDENTIALS_KEY (or is derived from SECRET_KEY when that is unset, so a
laptop works out of the box). Secrets are dicts whose shape depends on the kind; they are
never rendered back to a user and never logged.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError

from actions.sdk import ActionError
from circuits.tenancy.models.access import Credential, CredentialKind
from circuits.tenancy.models.tenants import Tenant

SECRET_FIELDS: dict[str, dict[str, bool]] = {
    # kind: {field: required}
    CredentialKind.SLACK_WEBHOOK: {"url": True},
    CredentialKind.HTTP_BASIC: {"username": True, "password": True},
    CredentialKind.HTTP_BEARER: {"token": True},
    CredentialKind.HTTP_HEADER: {"header": True, "value": True},
    CredentialKind.SMTP: {"host": True, "port": False, "username": False, "password": False, "use_tls": False, "from_email": False},
    CredentialKind.WEBHOOK_SECRET: {"secret": True},
}


@lru_cache(maxsize=4)
def _fernet(key_material: str) -> Fernet:
    if len(key_material) == 44 and key_material.endswith("="):
        try:
            return Fernet(key_material.encode())
        except ValueError:
            pass
    digest = hashlib.sha256(b"circuitos-credentials:" + key_material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def fernet() -> Fernet:
    return _fernet(settings.CREDENTIALS_KEY or settings.SECRET_KEY)


def encrypt(secret: dict) -> bytes:
    return fernet().encrypt(json.dumps(secret).encode())


def decrypt(blob: bytes) -> dict:
    try:
        return json.loads(fernet().decrypt(bytes(blob)))
    except InvalidToken:
        raise ValidationError("The credential cannot be decrypted with the current CREDENTIALS_KEY.") from None


def validate_secret(kind: str, secret: dict) -> None:
    fields = SECRET_FIELDS.get(kind)
    if fields is None:
        raise ValidationError({"kind": f"Unknown credential kind {kind!r}."})
    if not isinstance(secret, dict):
        raise ValidationError({"secret": "The secret must be an object."})
    unknown = set(secret) - set(fields)
    if unknown:
        raise ValidationError({"secret": f"Unknown secret fields for {kind}: {', '.join(sorted(unknown))}."})
    missing = [f for f, required in fields.items() if required and not secret.get(f)]
    if missing:
        raise ValidationError({"secret": f"Missing secret fields for {kind}: {', '.join(missing)}."})


def save_credential(tenant: Tenant, name: str, kind: str, secret: dict, *, description: str = "", user=None) -> Credential:
    validate_secret(kind, secret)
    credential, _ = Credential.objects.for_tenant(tenant).update_or_create(
        tenant=tenant,
        name=name,
        defaults={"kind": kind, "encrypted": encrypt(secret), "description": description, "created_by": user},
    )
    return credential


def read_credential(tenant: Tenant, name: str, kind: str | tuple[str, ...] | None = None) -> dict:
    credential = Credential.objects.for_tenant(tenant).filter(name=name).first()
    if credential is None:
        raise ActionError(f"No credential named {name!r} in this tenant.")
    kinds = (kind,) if isinstance(kind, str) else kind
    if kinds and credential.kind not in kinds:
        raise ActionError(f"Credential {name!r} is a {credential.kind}, expected {' or '.join(kinds)}.")
    return decrypt(credential.encrypted)
