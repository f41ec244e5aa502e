"""Text splitting and combine grouping: sizes hold, nothing is lost, reduction always ends."""

from __future__ import annotations

import pytest

from core.chunking import (
    combine_fan_in,
    plan_combine,
    planned_calls,
    split_text,
)


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    """Chunks break between paragraphs, and rejoining them gives back the text."""
    paragraphs = [f"Paragraph number {i} is here." for i in range(10)]
    text = "\n\n".join(paragraphs)
    chunks = split_text(text, 100)
    assert all(len(c) <= 100 for c in chunks)
    assert "\n\n".join(chunks) == text


def test_long_paragraph_breaks_at_sentences() -> None:
    """A paragraph over the limit is cut at sentence ends, not mid-word."""
    paragraph = " ".join(f"Sentence {i} has some words in it." for i in range(20))
    chunks = split_text(paragraph, 120)
    assert len(chunks) > 1
    assert all(len(c) <= 120 and c.endswith(".") for c in chunks)
    assert " ".join(chunks) == paragraph


def test_unbroken_text_is_cut_hard_without_loss() -> None:
    """Text with no sentence or paragraph breaks is still split, and nothing is dropped."""
    text = "x" * 1050
    chunks = split_text(text, 200)
    assert [len(c) for c in chunks] == [200] * 5 + [50]
    assert "".join(chunks) == text


def test_blank_text_has_no_chunks() -> None:
    """Whitespace yields no chunks (the input model rejects it before this)."""
    assert split_text(" \n\n  ", 200) == []


@pytest.mark.parametrize(
    ("count", "fan_in", "levels"),
    [
        (1, 3, []),
        (2, 3, [[2]]),
        (4, 3, [[4]]),
        (5, 3, [[3, 2], [2]]),
        (12, 2, [[2, 2, 2, 2, 2, 2], [2, 2, 2], [3]]),
        (7, 3, [[3, 4], [2]]),
    ],
)
def test_the_combine_tree_is_planned_from_the_count(
    count: int, fan_in: int, levels: list[list[int]]
) -> None:
    """Groups of `fan_in`, a lone leftover joining the last group; every level shrinks the
    list, covers every part, and the total is known before any partial exists."""
    plan = plan_combine(count, fan_in)
    assert plan == levels
    sizes = [count, *(len(level) for level in plan)]
    assert all(sum(level) == sizes[i] for i, level in enumerate(plan))
    assert sizes == sorted(sizes, reverse=True)


def test_fan_in_fits_worst_case_partials_in_one_call() -> None:
    """As many max-length partials as fit a chunk, and never fewer than two."""
    assert combine_fan_in(4000, 150) == 3
    assert combine_fan_in(200, 20) == 2
    assert combine_fan_in(100_000, 10) == 1388


def test_a_long_sentence_is_packed_by_words_not_cut_into_scraps() -> None:
    """A 1,232-character paragraph at 1,200 makes two chunks, not 21 + 1,200 + 32 characters:
    no paid call is spent on a scrap."""
    paragraph = "A short first clause. " + " ".join(["word"] * 242)
    assert len(paragraph) == 1_231
    packed = split_text(paragraph, 1200)
    assert len(packed) == 2
    assert all(len(c) <= 1200 for c in packed)
    assert " ".join(packed) == paragraph


def test_planned_calls_count_chunks_and_every_combine() -> None:
    """The plan the API checks counts one call per chunk and one per combine group."""
    assert planned_calls(1, 4000, 150) == 1
    fan_in = combine_fan_in(4000, 150)
    assert planned_calls(fan_in, 4000, 150) == fan_in + 1
    assert planned_calls(10, 200, 10) == 10 + sum(len(lv) for lv in plan_combine(10, 2))
