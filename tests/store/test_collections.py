"""Collections: passages replaced a document at a time (unchanged ones keep their embedding),
and hybrid search that finds a rare term by full text and a paraphrase by vector, within one
owner's collection only."""

from __future__ import annotations

import uuid

import pytest

from core.errors import InvalidInput
from core.offline_embedding import offline_embedding
from core.passages import passages
from store import Stores

DIM = 256

POLICY = """# Returns

Refunds are accepted within a thirty day window. Bring the receipt to any store.

# Codes

The discount code zebra-7731 works on weekends only.
"""
SHIPPING = """# Shipping

Parcels leave the warehouse every morning and arrive within three working days.
"""


def axis(index: int) -> list[float]:
    """A unit vector along one axis: vectors whose nearness the test decides."""
    vector = [0.0] * DIM
    vector[index] = 1.0
    return vector


async def ingest(stores: Stores, owner: str, name: str, text: str) -> None:
    cut = passages(text, 40, 5)
    embeddings = {p.digest: offline_embedding(p.text) for p in cut}
    await stores.collections.replace_document(owner, "docs", name, None, cut, embeddings)


async def test_a_changed_document_replaces_its_passages_and_keeps_unchanged_ones(
    stores: Stores,
) -> None:
    owner = f"owner-{uuid.uuid4().hex}"
    await stores.collections.ensure(owner, "docs", "offline", DIM)
    first = passages(POLICY, 40, 5)
    embeddings = {p.digest: offline_embedding(p.text) for p in first}
    done = await stores.collections.replace_document(
        owner, "docs", "policy.md", None, first, embeddings
    )
    assert (done.added, done.reused, done.removed) == (2, 0, 0)
    changed = POLICY.replace("weekends only", "every day")
    second = passages(changed, 40, 5)
    known = await stores.collections.known_embeddings(
        owner, "docs", "policy.md", [p.digest for p in second]
    )
    assert len(known) == 1  # the returns passage did not change
    fresh = {p.digest: offline_embedding(p.text) for p in second if p.digest not in known}
    done = await stores.collections.replace_document(
        owner, "docs", "policy.md", None, second, {**known, **fresh}
    )
    assert (done.added, done.reused, done.removed) == (1, 1, 1)
    hits = await stores.collections.search(
        owner, "docs", "weekends", offline_embedding("weekends"), 5
    )
    assert all("weekends" not in hit.text for hit in hits)


async def test_hybrid_search_finds_a_rare_term_by_text_and_a_paraphrase_by_vector(
    stores: Stores,
) -> None:
    owner = f"owner-{uuid.uuid4().hex}"
    await stores.collections.ensure(owner, "docs", "test-vectors", DIM)
    cut = passages(POLICY + "\n" + SHIPPING, 40, 5)
    by_heading = {p.headings[0]: p for p in cut}
    # The test decides nearness: the shipping passage lies along axis 1, the others apart.
    vectors = {"Returns": axis(0), "Codes": axis(2), "Shipping": axis(1)}
    embeddings = {p.digest: vectors[p.headings[0]] for p in cut}
    await stores.collections.replace_document(owner, "docs", "all.md", None, cut, embeddings)

    # A paraphrase shares no word with its passage: only the vector finds it.
    [top, *_] = await stores.collections.search(owner, "docs", "how fast is delivery", axis(1), 3)
    assert top.text == by_heading["Shipping"].text
    assert (top.vector_rank, top.text_rank) == (1, None)
    assert top.headings == ("Shipping",)
    # A rare code: the full-text search ranks it first although its vector is far away.
    hits = await stores.collections.search(owner, "docs", "zebra-7731", axis(1), 3)
    coded = next(h for h in hits if "zebra-7731" in h.text)
    assert coded.text_rank == 1
    assert hits[0].text_rank is not None


async def test_search_never_leaves_the_owners_collection(stores: Stores) -> None:
    mine, theirs = f"owner-{uuid.uuid4().hex}", f"owner-{uuid.uuid4().hex}"
    for owner in (mine, theirs):
        await stores.collections.ensure(owner, "docs", "offline", DIM)
    await ingest(stores, theirs, "policy.md", POLICY)
    await ingest(stores, mine, "shipping.md", SHIPPING)
    hits = await stores.collections.search(
        mine, "docs", "zebra-7731 refunds", offline_embedding("zebra-7731 refunds"), 10
    )
    assert {hit.document for hit in hits} <= {"shipping.md"}
    assert await stores.collections.get(theirs, "docs") is not None
    assert await stores.collections.delete(mine, "docs")
    assert await stores.collections.get(mine, "docs") is None
    assert await stores.collections.get(theirs, "docs") is not None


async def test_a_collection_keeps_one_embedding_model(stores: Stores) -> None:
    owner = f"owner-{uuid.uuid4().hex}"
    await stores.collections.ensure(owner, "docs", "text-embedding-3-small", 1536)
    with pytest.raises(InvalidInput) as refused:
        await stores.collections.ensure(owner, "docs", "offline", DIM)
    assert "text-embedding-3-small" in refused.value.message
