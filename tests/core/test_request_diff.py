"""The ReplayMiss diff: which message changed and how, then the other fields."""

from __future__ import annotations

import pytest

from core.request_diff import describe_change, request_digest

pytestmark = pytest.mark.unit


def asked(system: str, user: str, **fields: object) -> dict[str, object]:
    return {
        "model": None,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        **fields,
    }


def test_a_changed_word_is_named_with_its_message() -> None:
    """One word of the system prompt: the message's index and role, the word before and after."""
    before = asked("Summarize in at most 50 words.", "text", max_output_tokens=164)
    after = asked("Summarize in at most 30 words.", "text", max_output_tokens=124)
    assert describe_change(before, after).splitlines() == [
        "messages[0] (system) changed:",
        "  - '50'",
        "  + '30'",
        "max_output_tokens: 164 -> 124",
    ]


def test_added_and_removed_messages_and_multiline_texts() -> None:
    """A message more or less is said so; a text of many lines gets a unified diff."""
    before = asked("one\ntwo\nthree", "hello")
    after = {**asked("one\n2\nthree", "hello")}
    after["messages"] = [*after["messages"], {"role": "user", "content": "again"}]  # type: ignore[misc]
    lines = describe_change(before, after).splitlines()
    assert lines[0] == "messages[0] (system) changed:"
    assert "  -two" in lines
    assert "  +2" in lines
    assert lines[-1] == 'messages[2] (user) added: "again"'
    assert describe_change(after, before).splitlines()[-1] == 'messages[2] (user) removed: "again"'


def test_identical_requests_have_one_digest_and_no_change() -> None:
    """Key order does not matter; any changed value does."""
    a = {"model": "m", "messages": [], "temperature": 0.0}
    b = {"temperature": 0.0, "messages": [], "model": "m"}
    assert request_digest(a) == request_digest(b)
    assert describe_change(a, b) == ""
    assert request_digest(a) != request_digest({**a, "temperature": 0.5})
