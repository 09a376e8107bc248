"""Finding known entities in text: a transparent dictionary matcher, no model.

Every entity's name and aliases are surface forms, split into words (letters and digits;
punctuation and spacing do not matter, so "Globex, Inc." matches "Globex Inc"). The text is
split the same way and, at each word, the longest run of words that is a known form (ignoring
case) matches; forms of at most four characters ("Box", "SAP") must match their case exactly,
so common words are not taken for companies. Each match says which form matched where, so a
relation built from it can show its evidence. Looking a run of words up in a dictionary keeps
it linear in the text, however many entities the tenant has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intelligence.graph.models import Entity

MIN_FORM = 2
SHORT_FORM = 4
MAX_WORDS = 8  # longer names are not looked for
# Which kinds are looked for in documents (people's names are too ambiguous to match alone).
MATCHED_KINDS = ("company", "product", "technology", "market", "industry")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Match:
    entity_id: int
    name: str
    kind: str
    form: str  # the name or alias that matched
    start: int
    end: int
    text: str  # the text as written at start:end


class Matcher:
    def __init__(self, entities: list[tuple[int, str, str, list[str]]]) -> None:
        """entities: (id, kind, name, aliases)."""
        # folded words → (id, kind, name, form, the form's words as written)
        self.forms: dict[tuple[str, ...], tuple[int, str, str, str, tuple[str, ...]]] = {}
        ordered = sorted(entities, key=lambda e: e[0])
        # Every name before any alias: an alias that is also another entity's name never takes
        # that entity's mentions; among names (or aliases) alike, the older entity's holds.
        forms = [(e, e[2]) for e in ordered] + [(e, alias) for e in ordered for alias in e[3]]
        for (pk, kind, name, _), form in forms:
            words = tuple(_WORD.findall(form or ""))
            if not words or len(words) > MAX_WORDS or len("".join(words)) < MIN_FORM:
                continue
            self.forms.setdefault(tuple(w.casefold() for w in words), (pk, kind, name, form, words))
        self.longest = max((len(k) for k in self.forms), default=0)

    @classmethod
    def for_tenant(cls, tenant, kinds: tuple[str, ...] = MATCHED_KINDS) -> Matcher:
        rows = Entity.objects.for_tenant(tenant).filter(kind__in=kinds).values_list("id", "kind", "name", "aliases")
        return cls([(pk, kind, name, aliases or []) for pk, kind, name, aliases in rows])

    def find(self, text: str) -> list[Match]:
        words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
        folded = [w.casefold() for w, _, _ in words]
        found: list[Match] = []
        i = 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                hit = self.forms.get(tuple(folded[i : i + n]))
                if hit is None:
                    continue
                pk, kind, name, form, written = hit
                if len("".join(written)) <= SHORT_FORM and tuple(w for w, _, _ in words[i : i + n]) != written:
                    continue  # a short form in another case is a word, not the name
                start, end = words[i][1], words[i + n - 1][2]
                found.append(Match(pk, name, kind, form, start, end, text[start:end]))
                i += n - 1
                break
            i += 1
        return found
