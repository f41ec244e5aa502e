"""Documents on PostgreSQL: stored once per owner, searched with its own full-text search."""

from __future__ import annotations

import uuid

from core.contracts.tools import Document, DocumentRef, document_id
from store import Stores


def owners() -> tuple[str, str]:
    run = uuid.uuid4().hex
    return f"alice-{run}", f"bob-{run}"


def ids(refs: list[DocumentRef]) -> list[str]:
    return [ref.id for ref in refs]


async def test_search_is_scoped_to_the_owner(stores: Stores) -> None:
    """One owner's documents are invisible to another's searches, even by id."""
    alice, bob = owners()
    a = await stores.documents.put(alice, [Document(name="a.md", text="The refund window is 30.")])
    b = await stores.documents.put(bob, [Document(name="b.md", text="Refund requests: billing.")])
    both = ids(a) + ids(b)
    assert [name for name, _ in await stores.documents.search(alice, "refund", 5, both)] == ["a.md"]
    assert [name for name, _ in await stores.documents.search(bob, "refund", 5, both)] == ["b.md"]
    assert await stores.documents.search(f"carol-{uuid.uuid4().hex}", "refund", 5, both) == []


async def test_search_reads_only_the_documents_it_is_given(stores: Stores) -> None:
    """Two jobs of one owner, each given its own document, each find only their own."""
    alice, _ = owners()
    first = await stores.documents.put(alice, [Document(name="1.md", text="Refund window: 14.")])
    second = await stores.documents.put(alice, [Document(name="2.md", text="Refund window: 30.")])
    hits = await stores.documents.search(alice, "refund window", 5, ids(first))
    assert [name for name, _ in hits] == ["1.md"]
    hits = await stores.documents.search(alice, "refund window", 5, ids(second))
    assert [name for name, _ in hits] == ["2.md"]
    assert await stores.documents.search(alice, "refund window", 5, []) == []


async def test_query_syntax_from_the_model_is_only_words(stores: Stores) -> None:
    """Quotes, `-`, `or`, `&` and `:*` are not operators here: any word may match, and none is
    negated or turned into a prefix search."""
    alice, _ = owners()
    given = await stores.documents.put(
        alice,
        [
            Document(name="refunds.md", text="Refunds are accepted within a 30 day window."),
            Document(name="shipping.md", text="Shipping takes five days."),
        ],
    )
    hits = await stores.documents.search(alice, '"refund -shipping" & ship:* OR (', 5, ids(given))
    assert {name for name, _ in hits} == {"refunds.md", "shipping.md"}
    assert await stores.documents.search(alice, '"" -- ()', 5, ids(given)) == []


async def test_passages_mark_the_matches_and_rank_the_best_first(stores: Stores) -> None:
    """The passage shows matched words in [brackets]; more matches rank higher."""
    alice, _ = owners()
    given = await stores.documents.put(
        alice,
        [
            Document(name="once.md", text="A refund is possible."),
            Document(name="twice.md", text="Refund policy: every refund within the refund window."),
        ],
    )
    hits = await stores.documents.search(alice, "refund window", 5, ids(given))
    assert [name for name, _ in hits] == ["twice.md", "once.md"]
    assert "[refund]" in hits[0][1].lower()


async def test_the_same_document_is_stored_once(stores: Stores) -> None:
    """Ids are digests of owner, name and text: re-sending a document adds no second row."""
    alice, bob = owners()
    doc = Document(name="faq.md", text="Opening hours are nine to five.")
    first = await stores.documents.put(alice, [doc])
    again = await stores.documents.put(alice, [doc])
    assert first == again
    assert first[0].id == document_id(alice, doc)
    assert document_id(bob, doc) != first[0].id
    assert len(await stores.documents.search(alice, "opening hours", 5, ids(first))) == 1
