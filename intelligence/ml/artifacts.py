"""Fitted estimators as skops bytes: loading never unpickles; only the types listed are built.

The artifact is written by our own training code, but it sits in the database next to tenant
data, so it is loaded as if it were untrusted: skops refuses any type outside TRUSTED.
"""

from __future__ import annotations

import hashlib
from types import ModuleType

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.", "collections.")


def _skops() -> ModuleType:
    # Imported on first use: skops.io imports PyTorch when it is installed (for its own
    # loaders), which would add seconds and hundreds of MB to every process's start-up.
    import skops.io

    return skops.io


def dump(estimator) -> tuple[bytes, str]:
    data = _skops().dumps(estimator)
    return data, hashlib.sha256(data).hexdigest()


def load(data: bytes, sha256: str):
    data = bytes(data)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("the model artifact does not match its checksum")
    sio = _skops()
    untrusted = sio.get_untrusted_types(data=data)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise ValueError(f"the model artifact holds types outside scikit-learn and numpy: {', '.join(refused)}")
    return sio.loads(data, trusted=untrusted)
