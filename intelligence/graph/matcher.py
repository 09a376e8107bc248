"""Finding known entities in text: a transparent dictionary matcher, no model.

Every entity's name and aliases are surface forms. A form matches at word boundaries,
ignoring case and allowing any whitespace between its words; forms of at most four
characters ("Box", "SAP") must match their case exactly, so common words are not taken
for companies. Overlapping matches resolve to the longest form, then the earliest. Each
match says which form matched where, so a relation built from it can show its evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intelligence.graph.models import Entity
from intelligence.graph.types import normalize

MIN_FORM = 2
SHORT_FORM = 4
# Which kinds are looked for in documents (people's names are too ambiguous to match alone).
MATCHED_KINDS = ("company", "product", "technology", "market", "industry")


@dataclass(frozen=True)
class Match:
    entity_id: int
    name: str
    kind: str
    form: str  # the name or alias that matched
    start: int
    end: int
    text: str  # the text as written at start:end


def _pattern(form: str) -> str:
    words = [re.escape(w) for w in form.split()]
    return r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)"


class Matcher:
    def __init__(self, entities: list[tuple[int, str, str, list[str]]]) -> None:
        """entities: (id, kind, name, aliases)."""
        self.forms: dict[str, tuple[int, str, str]] = {}  # form → (id, kind, name)
        for pk, kind, name, aliases in entities:
            for form in (name, *aliases):
                form = " ".join((form or "").split())
                if len(normalize(form)) >= MIN_FORM and form not in self.forms:
                    self.forms[form] = (pk, kind, name)
        ordered = sorted(self.forms, key=len, reverse=True)
        folded = [f for f in ordered if len(f) > SHORT_FORM]
        exact = [f for f in ordered if len(f) <= SHORT_FORM]
        self._folded = re.compile("|".join(f"(?P<f{i}>{_pattern(f)})" for i, f in enumerate(folded)), re.IGNORECASE) if folded else None
        self._exact = re.compile("|".join(f"(?P<e{i}>{_pattern(f)})" for i, f in enumerate(exact))) if exact else None
        self._names = {**{f"f{i}": f for i, f in enumerate(folded)}, **{f"e{i}": f for i, f in enumerate(exact)}}

    @classmethod
    def for_tenant(cls, tenant, kinds: tuple[str, ...] = MATCHED_KINDS) -> Matcher:
        rows = Entity.objects.for_tenant(tenant).filter(kind__in=kinds).values_list("id", "kind", "name", "aliases")
        return cls([(pk, kind, name, aliases or []) for pk, kind, name, aliases in rows])

    def find(self, text: str) -> list[Match]:
        found: list[Match] = []
        for regex in (self._folded, self._exact):
            if regex is None:
                continue
            for m in regex.finditer(text):
                form = self._names[m.lastgroup]
                pk, kind, name = self.forms[form]
                found.append(Match(pk, name, kind, form, m.start(), m.end(), m.group(0)))
        # Longest first, then earliest; drop any match overlapping one already kept.
        found.sort(key=lambda m: (-(m.end - m.start), m.start))
        kept: list[Match] = []
        for match in found:
            if all(match.end <= k.start or match.start >= k.end for k in kept):
                kept.append(match)
        return sorted(kept, key=lambda m: m.start)
