"""The offline model: extractive, deterministic, within its word budget."""

from __future__ import annotations

from activities.offline_model import extract, next_tool_call


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


def test_the_offline_agent_reaches_for_the_tools_the_goal_names() -> None:
    """Arithmetic → calculator; "find" → search_documents; "file a ticket" → create_ticket,
    each once and in that order; then it answers. Tools not offered are never proposed."""
    goal = "Work out 12 * 7, find the refund window and file a ticket about it."
    tools = ["calculator", "search_documents", "create_ticket"]
    assert next_tool_call(goal, tools, [], None) == ("calculator", {"expression": "12 * 7"})
    name, args = next_tool_call(goal, tools, ["calculator"], "84") or ("", {})
    assert name == "search_documents"
    assert "refund" in str(args["query"])
    name, args = next_tool_call(goal, tools, ["calculator", "search_documents"], "14 days") or (
        "",
        {},
    )
    assert name == "create_ticket"
    assert "14 days" in str(args["body"])
    assert next_tool_call(goal, tools, [*tools], "TCK-1") is None
    assert next_tool_call(goal, ["calculator"], ["calculator"], "84") is None
    assert next_tool_call("Say hello.", tools, [], None) is None
