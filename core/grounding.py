"""Checking an answer against the passages it was given: each citation must name a retrieved
passage and quote it word for word; and the offline model's extractive answer. Pure, so the
answer workflow runs it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.chunking import SENTENCE_END
from core.contracts.answer import Citation, RetrievedPassage

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
# Words that say nothing about what a question is about.
_STOP = frozenset(
    "a an and are as at be by do does for from how i in is it of on or the to was what when "
    "where which who why with you your".split()
)


def _flat(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def checked_citations(
    given: Sequence[dict[str, Any]], passages: Sequence[RetrievedPassage]
) -> tuple[list[Citation], int]:
    """The citations that hold, and how many did not (no such passage, an empty quote, or
    words the passage does not contain). Spacing and case may differ; words may not."""
    by_id = {p.chunk_id: p for p in passages}
    kept: list[Citation] = []
    dropped = 0
    for citation in given:
        passage = by_id.get(citation.get("chunk"))  # type: ignore[arg-type]
        quote = str(citation.get("quote") or "")
        if passage is None or not _flat(quote) or _flat(quote) not in _flat(passage.text):
            dropped += 1
            continue
        kept.append(
            Citation(
                document=passage.document,
                document_id=passage.document_id,
                chunk=passage.chunk_id,
                quote=quote,
            )
        )
    return kept, dropped


def extractive_answer(
    question: str, passages: Sequence[RetrievedPassage], max_sentences: int = 2
) -> tuple[str, list[Citation]]:
    """The sentences of the passages that share the most words with the question, each cited
    (the offline model's answer); nothing when no sentence shares a word."""
    wanted = {w for w in _WORD.findall(question.lower()) if w not in _STOP}
    scored: list[tuple[int, int, str, RetrievedPassage]] = []
    for rank, passage in enumerate(passages):
        for sentence in SENTENCE_END.split(passage.text):
            overlap = len(wanted & set(_WORD.findall(sentence.lower())))
            if overlap:
                scored.append((-overlap, rank, sentence.strip(), passage))
    best = sorted(scored, key=lambda item: item[:2])[:max_sentences]
    citations = [
        Citation(document=p.document, document_id=p.document_id, chunk=p.chunk_id, quote=s)
        for _, _, s, p in best
    ]
    return " ".join(c.quote for c in citations), citations
