"""Redacting secrets from text people see (step errors, logs): whole occurrences, not every substring.

Replacing every substring garbles messages once a secret is short — a password "p" turned
"unexpectedly" into "unex********ectedly" — and says which letters the secret has. So:

- a secret is replaced where it stands as a token: the characters next to it are not word
  characters (letters, digits, "_") or are the ends of the text. Where the secret itself
  begins or ends with punctuation ("/services/…", "p@ss!") that edge is a boundary already;
- a secret of `EMBEDDED_MIN_LENGTH` characters or more is replaced wherever it appears, also
  inside a longer token (an API key glued into a URL or a header value): a long secret
  appearing by chance inside other text is not a real risk, a leak of it is;
- `secret_forms` adds the shapes a secret travels in — base64 (SMTP AUTH LOGIN sends the
  password so, and servers echo it) and percent-encoding (in URLs) — to redact them too.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote

MASK = "********"
EMBEDDED_MIN_LENGTH = 8


def secret_forms(secret: str) -> set[str]:
    """The secret as it is, base64-encoded and percent-encoded."""
    if not secret:
        return set()
    return {secret, base64.b64encode(secret.encode()).decode("ascii"), quote(secret, safe="")}


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _pattern(secret: str) -> str:
    body = re.escape(secret)
    if len(secret) >= EMBEDDED_MIN_LENGTH:
        return body
    before = r"(?<!\w)" if _is_word(secret[0]) else ""
    after = r"(?!\w)" if _is_word(secret[-1]) else ""
    return before + body + after


def redact(text: str, secrets: Iterable[str], mask: str = MASK) -> str:
    """`text` with every occurrence of each secret (a token, or anywhere if long) replaced by `mask`."""
    wanted = sorted({s for s in secrets if isinstance(s, str) and s}, key=len, reverse=True)
    if not wanted or not text:
        return text
    # One pass, longest first: a secret inside a longer one never leaves half of the longer one behind.
    return re.sub("|".join(_pattern(s) for s in wanted), lambda _match: mask, text)
