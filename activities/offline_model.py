"""The built-in `offline` model: deterministic, extractive, no network, so a fresh clone works."""

from __future__ import annotations

import re

OFFLINE_MODEL = "offline"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


def extract(text: str, max_words: int) -> str:
    """Pick whole sentences, first of each paragraph before second of any, up to `max_words`.

    Round-robin over paragraphs keeps every part of the text represented, which is what a
    combine step over several partial summaries needs.
    """
    paragraphs = [_sentences(p) for p in re.split(r"\n\s*\n", text) if p.strip()]
    chosen: list[tuple[int, int]] = []
    words = 0
    depth = 0
    full = False
    while not full and any(depth < len(p) for p in paragraphs):
        for index, sentences in enumerate(paragraphs):
            if depth >= len(sentences):
                continue
            count = len(sentences[depth].split())
            if words + count > max_words and chosen:
                full = True
                break
            chosen.append((index, depth))
            words += count
        depth += 1
    result = " ".join(paragraphs[i][d] for i, d in sorted(chosen)).split()
    # A single sentence longer than the budget is cut at the budget, never returned whole.
    return " ".join(result[:max_words])
