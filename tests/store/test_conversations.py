"""The conversation claim check on PostgreSQL: positions are fixed, retries rewrite, gaps fail."""

from __future__ import annotations

import uuid

import pytest

from store import Stores
from store.conversations import ConversationGap, ConversationStore
from store.database import create_engine


async def test_a_retried_step_rewrites_the_same_positions(stores: Stores) -> None:
    """Writing positions 2.. again (a retried step) replaces them instead of appending."""
    conversation = f"job-{uuid.uuid4().hex}"
    first = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    assert await stores.conversations.extend(conversation, 0, first) == first
    step = [{"role": "assistant", "content": "a"}]
    await stores.conversations.extend(conversation, 2, step)
    again = await stores.conversations.extend(conversation, 2, step)
    assert again == [*first, *step]


async def test_another_process_reads_what_one_wrote(stores: Stores, database_url: str) -> None:
    """A second engine (another worker's pool) sees the conversation: nothing is per host."""
    conversation = f"job-{uuid.uuid4().hex}"
    await stores.conversations.extend(conversation, 0, [{"role": "user", "content": "hello"}])
    engine = create_engine(database_url, pool_size=1)
    try:
        other = ConversationStore(engine)
        assert await other.extend(conversation, 1, []) == [{"role": "user", "content": "hello"}]
    finally:
        await engine.dispose()


async def test_a_gap_is_an_error_not_a_short_conversation(stores: Stores) -> None:
    """Asking to continue at a position nobody wrote raises instead of answering partially."""
    with pytest.raises(ConversationGap, match="gaps before position 3"):
        await stores.conversations.extend(f"job-{uuid.uuid4().hex}", 2, [{"role": "user"}])


async def test_nul_from_a_model_or_a_page_is_stored_as_a_replacement_character(
    stores: Stores,
) -> None:
    """PostgreSQL's JSONB refuses \\u0000; a model reply or a fetched page carrying one is
    stored with U+FFFD instead, so the step does not fail on every retry."""
    conversation = f"job-{uuid.uuid4().hex}"
    message = {"role": "tool", "tool_call_id": "call_0", "content": "a\x00b", "x\x00": ["\x00"]}
    [stored] = await stores.conversations.extend(conversation, 0, [message])
    assert stored == {
        "role": "tool",
        "tool_call_id": "call_0",
        "content": "a\ufffdb",
        "x\ufffd": ["\ufffd"],
    }
    assert await stores.outbox.add(f"{conversation}/publish", conversation, 1, "draft\x00")
    assert await stores.outbox.entries(conversation) == [
        (f"{conversation}/publish", 1, "draft\ufffd")
    ]
