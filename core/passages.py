"""Cutting a document into passages for retrieval, along its structure: headings, then
paragraphs, then sentences, and tokens only for a sentence too long alone. Each passage keeps
its position, its heading path and a digest of its text (a passage that did not change is not
embedded again). Deterministic, so workflows may call it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from core.chunking import SENTENCE_END

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# What counts as a token here: a word or a punctuation mark. Close to a model tokenizer's
# count for English prose, and the same on every machine.
_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


@dataclass(frozen=True)
class Passage:
    position: int
    text: str
    headings: tuple[str, ...] = ()
    tokens: int = 0

    @property
    def digest(self) -> str:
        """Identifies the passage's text and place in the outline, not its position."""
        material = "\0".join([*self.headings, self.text])
        return hashlib.sha256(material.encode()).hexdigest()


@dataclass
class _Section:
    headings: tuple[str, ...]
    blocks: list[str] = field(default_factory=list)


def passages(text: str, max_tokens: int = 400, overlap_tokens: int = 50) -> list[Passage]:
    """The document's passages, each at most `max_tokens`. Within a section, consecutive
    passages share up to `overlap_tokens` of text (whole sentences where possible), so a
    sentence cut from its neighbour is still found with it."""
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError("need max_tokens >= 1 and 0 <= overlap_tokens < max_tokens")
    found: list[Passage] = []
    for section in _sections(text):
        for body in _pack(section.blocks, max_tokens, overlap_tokens):
            found.append(Passage(len(found), body, section.headings, count_tokens(body)))
    return found


def _sections(text: str) -> list[_Section]:
    """Runs of paragraphs under one heading path (Markdown `#` headings)."""
    sections = [_Section(())]
    path: list[tuple[int, str]] = []
    paragraph: list[str] = []

    def close_paragraph() -> None:
        if paragraph:
            sections[-1].blocks.append(" ".join(paragraph))
            paragraph.clear()

    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            close_paragraph()
            level = len(heading.group(1))
            path = [(lvl, title) for lvl, title in path if lvl < level] + [
                (level, heading.group(2))
            ]
            sections.append(_Section(tuple(title for _, title in path)))
        elif line.strip():
            paragraph.append(line.strip())
        else:
            close_paragraph()
    close_paragraph()
    return [s for s in sections if s.blocks]


def _pack(blocks: list[str], limit: int, overlap: int) -> list[str]:
    """Fill passages with whole paragraphs, else sentences, else token runs."""
    units = [unit for block in blocks for unit in _units(block, limit)]
    packed: list[str] = []
    current: list[str] = []
    size = 0
    for unit in units:
        cost = count_tokens(unit)
        if current and size + cost > limit:
            packed.append(" ".join(current))
            current = _tail(current, overlap, limit - cost)
            size = sum(count_tokens(u) for u in current)
        current.append(unit)
        size += cost
    if current:
        packed.append(" ".join(current))
    return packed


def _units(block: str, limit: int) -> list[str]:
    if count_tokens(block) <= limit:
        return [block]
    units: list[str] = []
    for sentence in SENTENCE_END.split(block):
        if count_tokens(sentence) <= limit:
            units.append(sentence)
            continue
        words = sentence.split()
        run: list[str] = []
        for word in words:
            if run and count_tokens(" ".join([*run, word])) > limit:
                units.append(" ".join(run))
                run = []
            run.append(word)
        if run:
            units.append(" ".join(run))
    return units


def _tail(units: list[str], overlap: int, room: int) -> list[str]:
    """The last units of a passage that fit in `overlap` tokens (and in what room is left)."""
    kept: list[str] = []
    size = 0
    for unit in reversed(units):
        cost = count_tokens(unit)
        if size + cost > min(overlap, room):
            break
        kept.insert(0, unit)
        size += cost
    return kept
