"""The main text of a web page (trafilatura), without the copy of it trafilatura appends, and
only for a page small enough for it (MAX_ELEMENTS).

Shared by HTML ingestion (intelligence/rag/parsing.py) and the `web.scrape` action. It imports
no platform code.

Why this exists: when the main text trafilatura 2.0 finds is shorter than its
MIN_EXTRACTED_SIZE (250 characters), it "recovers wild text" — it walks a copy of the whole
page and appends every paragraph, table and quote it meets, including the ones it has already
extracted. A short article therefore comes out as A B C D A C: the repeat is a replay at the
end, not adjacent, so collapsing consecutive duplicates would not undo it, and trafilatura's
own `deduplicate` option does not either. Dropping every repeated paragraph would (and
before this module did, in ingestion) also drop text a page really repeats.

So the fix is aimed at the cause: when the output repeats a line, extract once more with the
recovery switched off (MIN_EXTRACTED_SIZE 0: the main body alone). If the full output starts
with that main body, the rest is what the recovery appended, and only the lines of it that are
already in the main body are dropped; anything it found outside the main body stays, and so
do repeats within the main body. If the two extractions do not line up, the output is kept as
it is (at worst a repeat, never lost text).
"""

from __future__ import annotations

import re
from copy import deepcopy
from functools import cache

import lxml.etree
import lxml.html

# trafilatura is imported on first use (~0.06 s with its helpers): Django's start-up imports this
# module through the scrape step and ingestion.

# trafilatura's time grows with a page's elements, faster than linearly on some shapes, and it
# cannot be interrupted: 20,000 elements take 1–7 s here (ordinary divs ~4 s, 250-deep nesting
# ~7 s, counting the second pass), and a 4 MB page of small nested elements took over 200 s.
# Real pages hold a few thousand (a long article with its navigation ~5,000), so a page with
# more is not given to it; the callers read its visible text with lxml instead, which is linear.
MAX_ELEMENTS = 20_000


class TooManyElements(ValueError):
    """The page has more elements than main-text extraction is given (MAX_ELEMENTS)."""

    def __init__(self, count: int, limit: int) -> None:
        self.count, self.limit = count, limit
        super().__init__(f"the page has {count:,} HTML elements, more than the {limit:,} main-text extraction takes; its visible text is used instead")


@cache
def _no_recovery():
    from trafilatura.settings import use_config

    config = deepcopy(use_config())
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "0")
    return config


def _has_repeated_line(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return len(set(lines)) < len(lines)


def without_recovered_copies(full: str, main: str) -> str:
    """`full` less the lines after its `main` prefix that repeat a line of `main`."""
    full_lines, main_lines = full.splitlines(), main.splitlines()
    if not main_lines or full_lines[: len(main_lines)] != main_lines:
        return full
    seen = {line.strip() for line in main_lines if line.strip()}
    tail = [line for line in full_lines[len(main_lines) :] if line.strip() not in seen]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(main_lines + tail)).strip()


def element_count(html: str) -> int:
    """How many elements lxml's HTML parser makes of `html` (0 when it cannot read it: trafilatura
    then finds nothing either). ~50 ms for a 4 MB page."""
    try:
        return sum(1 for _ in lxml.html.document_fromstring(html).iter(lxml.etree.Element))
    except (lxml.etree.ParserError, ValueError):
        return 0


def main_text(html: str, *, url: str | None = None, output_format: str = "txt", include_tables: bool = True, max_elements: int = MAX_ELEMENTS) -> str:
    """The page's main text ("" when trafilatura finds none), each paragraph once. Raises
    TooManyElements for a page of more than `max_elements` elements, before trafilatura sees it."""
    count = element_count(html)
    if count > max_elements:
        raise TooManyElements(count, max_elements)
    import trafilatura

    options = {"url": url, "output_format": output_format, "include_tables": include_tables, "include_comments": False}
    full = trafilatura.extract(html, **options) or ""
    if not _has_repeated_line(full):
        return full  # the common case: one extraction
    main = trafilatura.extract(html, config=_no_recovery(), **options) or ""
    return without_recovered_copies(full, main)
