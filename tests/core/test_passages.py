"""Passages follow the document's outline: headings, paragraphs, sentences, then words; each
stays within its token limit, keeps its heading path, and neighbours overlap by whole
sentences. The offline embedding ranks by shared words."""

from __future__ import annotations

import math

import pytest

from core.offline_embedding import offline_embedding
from core.passages import count_tokens, passages

pytestmark = pytest.mark.unit

DOC = """# Handbook

Welcome to the team.

## Leave

You get thirty days of leave. Ask your lead first. Plan ahead for the summer.

### Sick leave

Tell your lead on the first morning.
"""


def test_each_passage_keeps_its_heading_path() -> None:
    cut = passages(DOC, 400, 0)
    assert [(p.headings, p.text) for p in cut] == [
        (("Handbook",), "Welcome to the team."),
        (
            ("Handbook", "Leave"),
            "You get thirty days of leave. Ask your lead first. Plan ahead for the summer.",
        ),
        (("Handbook", "Leave", "Sick leave"), "Tell your lead on the first morning."),
    ]
    assert [p.position for p in cut] == [0, 1, 2]


def test_a_long_paragraph_is_cut_at_sentences_with_overlap() -> None:
    """At 14 tokens a passage, the leave paragraph (18 tokens) is cut between sentences, and
    the second passage begins with the first one's last sentence (5 tokens of overlap)."""
    cut = [p for p in passages(DOC, 14, 7) if p.headings == ("Handbook", "Leave")]
    assert all(count_tokens(p.text) <= 14 for p in cut)
    assert [p.text for p in cut] == [
        "You get thirty days of leave. Ask your lead first.",
        "Ask your lead first. Plan ahead for the summer.",
    ]


def test_a_sentence_too_long_alone_is_cut_into_words() -> None:
    cut = passages("word " * 50, 20, 0)
    assert all(p.tokens <= 20 for p in cut)
    assert " ".join(p.text for p in cut).split() == ["word"] * 50


def test_a_passage_is_known_by_its_text_and_outline() -> None:
    one, two = passages("# A\n\nSame text.\n\n# B\n\nSame text.", 50, 0)
    assert one.text == two.text
    assert one.digest != two.digest
    assert passages("# A\n\nSame text.", 50, 0)[0].digest == one.digest


def test_offline_embeddings_rank_by_shared_words() -> None:
    query = offline_embedding("refund window")
    near = offline_embedding("The refund window is thirty days.")
    far = offline_embedding("Parcels arrive within three working days.")

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(query, near) > cosine(query, far)
    assert math.isclose(sum(v * v for v in near), 1.0)
    assert offline_embedding("x y") == offline_embedding("x y")
