"""Claims on waiting questions: one holder at a time, taken over only once lapsed, released
by their holder alone, and pruned when lapsed."""

from __future__ import annotations

import uuid
from datetime import timedelta

from store import Stores

HOUR = timedelta(hours=1)


async def test_a_claim_has_one_holder_until_it_lapses(stores: Stores) -> None:
    claims = stores.claims
    job, question = f"job-{uuid.uuid4().hex}", "review-1"
    assert (await claims.claim(job, question, "omar", HOUR)).reviewer == "omar"
    # Maria is told who holds it; the claim stands.
    assert (await claims.claim(job, question, "maria", HOUR)).reviewer == "omar"
    assert not await claims.release(job, question, "maria")
    [held] = (await claims.holders([(job, question)])).values()
    assert held.reviewer == "omar"
    # Omar renews it with no time left: lapsed, so maria may take it.
    await claims.claim(job, question, "omar", timedelta(0))
    assert await claims.holders([(job, question)]) == {}
    assert (await claims.claim(job, question, "maria", HOUR)).reviewer == "maria"
    assert await claims.release(job, question, "maria")
    assert await claims.holders([(job, question)]) == {}


async def test_lapsed_claims_are_pruned(stores: Stores) -> None:
    claims = stores.claims
    lapsed, standing = f"job-{uuid.uuid4().hex}", f"job-{uuid.uuid4().hex}"
    await claims.claim(lapsed, "q", "omar", timedelta(0))
    await claims.claim(standing, "q", "omar", HOUR)
    assert await claims.prune() >= 1
    assert set(await claims.holders([(lapsed, "q"), (standing, "q")])) == {(standing, "q")}
