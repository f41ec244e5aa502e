"""The offline model: extractive, deterministic, within its word budget."""

from __future__ import annotations

from activities.offline_model import extract


def test_takes_first_sentences_of_every_paragraph_first() -> None:
    """Round-robin over paragraphs: each part of the text is represented before any repeats."""
    text = "A one. A two.\n\nB one. B two.\n\nC one. C two."
    assert extract(text, 6) == "A one. B one. C one."
    assert extract(text, 8) == "A one. A two. B one. C one."


def test_respects_the_word_budget() -> None:
    """Never more words than asked, even when one sentence is longer than the budget."""
    long_sentence = " ".join(["word"] * 50) + "."
    assert len(extract(long_sentence, 10).split()) == 10
    text = "\n\n".join(f"Para {i} has five words." for i in range(10))
    assert len(extract(text, 23).split()) <= 23


def test_is_deterministic() -> None:
    """The same text gives the same answer, so replays and tests are stable."""
    text = "One. Two. Three.\n\nFour. Five."
    assert extract(text, 3) == extract(text, 3) == "One. Two. Four."
