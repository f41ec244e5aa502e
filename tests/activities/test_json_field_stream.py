"""A JSON answer's text field streams as it arrives, however the deltas cut it: mid-key,
mid-escape, and after the field has ended."""

from __future__ import annotations

import json

import pytest

from activities.json_field_stream import JsonFieldText

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_the_field_streams_whole_whatever_the_cuts(step: int) -> None:
    answer = 'Thirty "days" of leave.\nYes, é and 😀.'
    document = json.dumps({"grounded": True, "answer": answer, "citations": [{"q": "x"}]})
    got: list[str] = []
    stream = JsonFieldText("answer", got.append)
    for start in range(0, len(document), step):
        stream(document[start : start + step])
    assert "".join(got) == answer


def test_nothing_streams_from_text_that_is_not_json() -> None:
    got: list[str] = []
    stream = JsonFieldText("answer", got.append)
    stream("Sorry, I cannot answer in JSON.")
    assert got == []
