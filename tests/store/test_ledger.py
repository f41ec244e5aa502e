"""The cost ledger: each billed attempt once, and usage by day, model and job type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from store import Stores
from store.ledger import Charge


def _charge(owner: str, key: str, model: str, cost: Decimal | None) -> Charge:
    return Charge(key, owner, f"job-{key}", "summarize", model, 100, 50, cost)


async def test_an_attempt_is_recorded_once_and_usage_groups_it(stores: Stores) -> None:
    """Recording the same attempt again adds nothing; usage sums per model, and unpriced calls
    are counted, never priced."""
    owner = f"owner-{uuid.uuid4().hex}"
    assert await stores.ledger.record(_charge(owner, "r/1/1", "gpt-4o-mini", Decimal("0.01")))
    assert not await stores.ledger.record(_charge(owner, "r/1/1", "gpt-4o-mini", Decimal("0.01")))
    assert await stores.ledger.record(_charge(owner, "r/1/2", "gpt-4o-mini", Decimal("0.02")))
    assert await stores.ledger.record(_charge(owner, "r/2/1", "my-llama", None))
    await stores.ledger.record(_charge(f"other-{owner}", "x/1/1", "gpt-4o-mini", Decimal(5)))

    now = datetime.now(UTC)
    groups = await stores.ledger.usage(
        owner, now - timedelta(hours=1), now + timedelta(hours=1), "model"
    )
    assert [(g.key, g.calls, g.cost_usd, g.unpriced_calls) for g in groups] == [
        ("gpt-4o-mini", 2, Decimal("0.03"), 0),
        ("my-llama", 1, Decimal(0), 1),
    ]
    assert await stores.ledger.spent(owner, now - timedelta(hours=1)) == Decimal("0.03")
    [day] = await stores.ledger.usage(
        owner, now - timedelta(days=1), now + timedelta(hours=1), "day"
    )
    assert (day.key, day.calls, day.input_tokens) == (now.strftime("%Y-%m-%d"), 3, 300)
