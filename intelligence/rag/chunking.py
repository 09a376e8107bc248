"""Split a document's text into passages that keep headings and sentences whole.

Every chunk is one contiguous span of the text (`text[start:end]`), so a citation's offsets
point at exactly what was retrieved. Sections start at Markdown headings (HTML arrives
here as Markdown); inside a section, sentences are packed up to `size` characters, and the
next chunk starts with the last sentences of the one before (about `overlap` characters) so
a fact that straddles a boundary is whole in at least one chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A Markdown heading line; its closing #s are stripped by `heading_title`, not here: the tail
# `(.+?)[ \t#]*$` backtracks quadratically on a long run of spaces or #s (a 2 MB line of them
# kept a worker busy for hours). Each part below can match in one way only, so it is linear.
HEADING = re.compile(r"^(#{1,6})[ \t]+(\S[^\n]*)$", re.M)


def heading_title(match: re.Match) -> str:
    """The heading's text without its closing #s and trailing blanks."""
    return match.group(2).rstrip(" \t#").strip()


# A sentence ends at . ! ? (optionally closed by a quote or bracket) before whitespace and
# an upper-case letter, digit or opening mark — or at a blank line / list item.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[*•-])|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Piece:
    start: int
    end: int
    heading: str


def indexed_text(title: str, heading: str, text: str) -> str:
    """What the embedding and BM25 see for a chunk: its document title and section path
    give a passage the context a reader has (a known-item query often names them)."""
    context = " › ".join(part for part in (title, heading) if part)
    return f"{context}\n{text}" if context else text


def _sections(text: str) -> list[tuple[int, int, str]]:
    """(start, end, heading path) of each section; the heading line belongs to its section."""
    marks = list(HEADING.finditer(text))
    if not marks:
        return [(0, len(text), "")]
    sections = []
    if text[: marks[0].start()].strip():
        sections.append((0, marks[0].start(), ""))
    path: list[tuple[int, str]] = []
    for i, mark in enumerate(marks):
        level, title = len(mark.group(1)), heading_title(mark)
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        sections.append((mark.start(), end, " › ".join(t for _, t in path)))
    return sections


def _sentences(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end], trimmed of surrounding whitespace; a sentence
    longer than `size` is cut at word boundaries."""
    spans = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        while e - s > size:
            cut = s + size
            space = max(text.rfind(" ", s + size // 2, cut), text.rfind("\n", s + size // 2, cut))
            cut = space if space > s else cut
            out.append((s, cut))
            s = cut
            while s < e and text[s].isspace():
                s += 1
        if e > s:
            out.append((s, e))
    return out


def chunk_text(text: str, *, size: int = 800, overlap: int = 150) -> list[Piece]:
    """The chunks of `text`: spans of at most about `size` characters."""
    if size < 50:
        raise ValueError("chunk size must be at least 50 characters")
    overlap = max(0, min(overlap, size // 2))
    pieces: list[Piece] = []
    for sec_start, sec_end, heading in _sections(text):
        sentences = _sentences(text, sec_start, sec_end, size)
        i = 0
        while i < len(sentences):
            j = i
            while j + 1 < len(sentences) and sentences[j + 1][1] - sentences[i][0] <= size:
                j += 1
            pieces.append(Piece(sentences[i][0], sentences[j][1], heading))
            if j + 1 >= len(sentences):
                break
            # The next chunk repeats the trailing sentences that fit in `overlap` (never all of them,
            # so every chunk moves forward).
            k = j
            while k > i + 1 and sentences[j][1] - sentences[k - 1][0] <= overlap:
                k -= 1
            i = k if k > i and sentences[j][1] - sentences[k][0] <= overlap else j + 1
    return pieces
