"""Pure text splitting and call planning for map-reduce jobs: deterministic, so workflows may
call it, and the API plans a job with the same code before starting it."""

from __future__ import annotations

import re

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Where a sentence ends: after . ! or ?, before whitespace (passages and grounding too).
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


_SPACE = re.compile(r"\s+")


def _pieces(text: str, limit: int) -> list[tuple[str, str]]:
    """Break text into (piece, joiner) units no longer than `limit`.

    Paragraphs are kept whole when they fit, else cut at sentence ends; a sentence still too
    long is cut into words (a word longer than `limit`, hard at `limit`). The joiner
    remembers whether a piece followed a paragraph break or a space.
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
        for sentence in SENTENCE_END.split(paragraph):
            if len(sentence) > limit:
                for index, word in enumerate(_SPACE.split(sentence)):
                    units.extend(_hard_cut(word, limit, joiner if index == 0 else " "))
            else:
                units.extend(_hard_cut(sentence, limit, joiner))
            joiner = " "
    return units


def _hard_cut(piece: str, limit: int, joiner: str) -> list[tuple[str, str]]:
    return [
        (piece[start : start + limit], joiner if start == 0 else "")
        for start in range(0, len(piece), limit)
    ]


def split_text(text: str, chunk_chars: int) -> list[str]:
    """Pack paragraphs, sentences and (for over-long sentences) words greedily into chunks of
    at most `chunk_chars` characters, so no call is spent on a scrap."""
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


def planned_calls(chunks: int, chunk_chars: int, max_words: int) -> int:
    """Model calls a summary of `chunks` chunks makes: one per chunk, one per combine group."""
    plan = plan_combine(chunks, combine_fan_in(chunk_chars, max_words))
    return chunks + sum(len(level) for level in plan)
