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


# What the goal must say for the offline agent to reach for each tool.
_ARITHMETIC = re.compile(r"\d+(?:\.\d+)?(?:\s*[-+*/^]\s*\(?\s*\d+(?:\.\d+)?\s*\)?)+")
_SEARCH_WORDS = re.compile(r"\b(find|search|look up|look for|check)\b", re.IGNORECASE)
_TICKET = re.compile(r"\b(file|open|create|raise)\b[^.]*\bticket\b", re.IGNORECASE)
_STOPWORDS = frozenset(
    "a an and are as at be by check does file find for from how if in is it its look of on "
    "or our the their this to under up what when where which whether with".split()
)


def next_tool_call(
    goal: str, tools: list[str], used: list[str], last_result: str | None
) -> tuple[str, dict[str, object]] | None:
    """The offline agent's next step: a tool the goal plainly asks for and it has not used
    yet, in the order a person would (compute, look up, then file), or None to answer.

    Deterministic, so the README's agent walkthrough reaches its approval step without a key.
    """
    if "calculator" in tools and "calculator" not in used:
        if match := _ARITHMETIC.search(goal):
            return "calculator", {"expression": match.group(0).replace("^", "**")}
    if (
        "search_documents" in tools
        and "search_documents" not in used
        and _SEARCH_WORDS.search(goal)
    ):
        words = [w for w in re.findall(r"[A-Za-z]+", goal.lower()) if w not in _STOPWORDS]
        return "search_documents", {"query": " ".join(words[:6]) or goal[:100]}
    if "create_ticket" in tools and "create_ticket" not in used and _TICKET.search(goal):
        body = f"{goal}\n\nFound: {last_result}" if last_result else goal
        return "create_ticket", {"title": goal[:200], "body": body[:5000]}
    return None
