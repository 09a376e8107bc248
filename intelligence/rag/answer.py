"""The extractive answer: the best sentences of the top passages, each with its citation.

No generative model: sentences are cut from the retrieved chunks (so the answer can only say
what the documents say) and ranked by the passage's score and how many of the query's terms
(stemmed, stop words dropped) they contain. Offsets are into the document's text.
"""

from __future__ import annotations

import re

from intelligence.rag.chunking import _sentences
from intelligence.rag.sparse import tokenize

_LEADING_HEADINGS = re.compile(r"(?:[ \t]*#{1,6}[ \t][^\n]*(?:\n|$))*")


def extractive_answer(query: str, results: list[dict], *, max_sentences: int = 3, passages: int = 5) -> dict:
    terms = set(tokenize([query])[0])
    top = results[:passages]
    if not top:
        return {"text": "", "sentences": []}
    best = max(r["score"] for r in top) or 1.0
    candidates = []
    for rank, result in enumerate(top):
        if rank and result["score"] < 0.5 * best:
            break  # a passage far below the best one has no place in the answer
        text = result["text"]
        body = _LEADING_HEADINGS.match(text).end()  # a heading line is no answer
        for start, end in _sentences(text, body, len(text), 400):
            sentence = text[start:end]
            if sentence.startswith("#") or len(sentence) < 15:
                continue
            words = set(tokenize([sentence])[0])
            overlap = len(terms & words) / len(terms) if terms else 0.0
            if rank and not overlap:
                continue  # from a lower passage, only sentences that share a term with the query
            score = 0.5 * (result["score"] / best) + 0.5 * overlap - 0.01 * rank
            candidates.append((score, result, start, end, sentence))
    candidates.sort(key=lambda c: -c[0])
    chosen, seen = [], set()
    for score, result, start, end, sentence in candidates:
        key = " ".join(sentence.lower().split())
        if key in seen:
            continue  # overlapping chunks repeat sentences
        seen.add(key)
        offset = result["start"]
        citation = {**result["citation"], "start": offset + start, "end": offset + end}
        chosen.append({"text": sentence, "score": round(score, 4), "citation": citation})
        if len(chosen) == max_sentences:
            break
    return {"text": " ".join(s["text"] for s in chosen), "sentences": chosen}
