"""Pure text splitting for map-reduce jobs: deterministic, so workflows may call it directly."""

from __future__ import annotations

import re

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _pieces(text: str, limit: int) -> list[tuple[str, str]]:
    """Break text into (piece, joiner) units no longer than `limit`.

    Paragraphs are kept whole when they fit, else cut at sentence ends, else cut hard; the
    joiner remembers whether a piece followed a paragraph break or a space.
    """
    units: list[tuple[str, str]] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= limit:
            units.append((paragraph, "\n\n"))
            continue
        joiner = "\n\n"
        for sentence in _SENTENCE_END.split(paragraph):
            for start in range(0, len(sentence), limit):
                units.append((sentence[start : start + limit], joiner if start == 0 else ""))
            joiner = " "
    return units


def split_text(text: str, chunk_chars: int) -> list[str]:
    """Pack paragraphs (or sentences) greedily into chunks of at most `chunk_chars` characters."""
    chunks: list[str] = []
    current = ""
    for piece, joiner in _pieces(text, chunk_chars):
        candidate = f"{current}{joiner}{piece}" if current else piece
        if len(candidate) <= chunk_chars:
            current = candidate
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def group_for_combine(parts: list[str], budget_chars: int) -> list[list[str]]:
    """Group partial results so each group fits one call.

    Every group holds at least two parts (when there are two), so each combine round strictly
    shrinks the list and the reduction always ends.
    """
    groups: list[list[str]] = []
    current: list[str] = []
    size = 0
    for part in parts:
        if len(current) >= 2 and size + len(part) > budget_chars:
            groups.append(current)
            current, size = [], 0
        current.append(part)
        size += len(part) + 2
    if current:
        if len(current) == 1 and groups:
            groups[-1].append(current[0])
        else:
            groups.append(current)
    return groups


# A partial summary of at most `max_words` words is assumed to take at most this many
# characters a word, so the combine tree can be planned before any partial exists.
CHARS_PER_WORD = 7


def combine_fan_in(chunk_chars: int, max_words: int) -> int:
    """How many partial summaries one combine call takes: as many as fit `chunk_chars`."""
    return max(2, chunk_chars // (max_words * CHARS_PER_WORD + 2))


def plan_combine(count: int, fan_in: int) -> list[list[int]]:
    """The combine tree for `count` partials: per level, the size of each group.

    Planned once the text is split, so progress knows its total from the start. A lone part
    left over joins the level's last group, so every level strictly shrinks the list.
    """
    levels: list[list[int]] = []
    while count > 1:
        sizes = [fan_in] * (count // fan_in)
        left = count % fan_in
        if left == 1 and sizes:
            sizes[-1] += 1
        elif left:
            sizes.append(left)
        levels.append(sizes)
        count = len(sizes)
    return levels
