"""The cost ledger: every billed model call once, and what an owner spent by day, model, type."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.reads import autocommit
from store.tables import ledger

GroupBy = Literal["day", "model", "type"]


@dataclass(frozen=True)
class Charge:
    """One billed attempt. `key` (run/activity/attempt) makes recording it twice a no-op."""

    key: str
    owner: str | None
    job_id: str
    job_type: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    # Answered from the response cache: no model call, and what it would have cost.
    cache_hit: bool = False
    saved_cost_usd: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        """As JSON (amounts as decimal strings), to travel in an activity's heartbeat."""
        return {
            k: str(v) if isinstance(v, Decimal) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Charge:
        amounts: dict[str, Any] = {
            k: None if data.get(k) is None else Decimal(data[k])
            for k in ("cost_usd", "saved_cost_usd")
        }
        return cls(**{**data, **amounts})


@dataclass(frozen=True)
class UsageGroup:
    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    # The sum of the calls with a known price; `unpriced_calls` says how many had none.
    cost_usd: Decimal
    unpriced_calls: int
    cache_hits: int = 0
    saved_cost_usd: Decimal = Decimal(0)


def _group_key(group_by: GroupBy) -> ColumnElement[str]:
    if group_by == "model":
        return ledger.c.model
    if group_by == "type":
        return ledger.c.job_type
    return func.to_char(func.timezone("UTC", ledger.c.created_at), "YYYY-MM-DD")


def recording(charge: Charge) -> Insert:
    """The statement that records `charge` once, for callers that write it in their own
    transaction."""
    return insert(ledger).values(**charge.__dict__).on_conflict_do_nothing(index_elements=["key"])


class Ledger:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = autocommit(engine)

    async def record(self, charge: Charge) -> bool:
        """Store the charge; False when this attempt was recorded before."""
        async with self._engine.begin() as conn:
            inserted = await conn.execute(recording(charge).returning(ledger.c.key))
            return inserted.first() is not None

    async def spent(self, owner: str, since: datetime) -> Decimal:
        """Dollars `owner`'s priced calls cost since `since`."""
        async with self._reads.connect() as conn:
            total = (
                await conn.execute(
                    select(func.coalesce(func.sum(ledger.c.cost_usd), 0)).where(
                        ledger.c.owner == owner, ledger.c.created_at >= since
                    )
                )
            ).scalar_one()
        return Decimal(total)

    async def usage(
        self, owner: str, start: datetime, end: datetime, group_by: GroupBy
    ) -> list[UsageGroup]:
        key = _group_key(group_by).label("key")
        async with self._reads.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        key,
                        # A cache hit is a line (it records a saving) but not a model call.
                        func.count().filter(~ledger.c.cache_hit).label("calls"),
                        func.sum(ledger.c.input_tokens).label("input_tokens"),
                        func.sum(ledger.c.output_tokens).label("output_tokens"),
                        func.coalesce(func.sum(ledger.c.cost_usd), 0).label("cost_usd"),
                        func.count().filter(ledger.c.cost_usd.is_(None)).label("unpriced"),
                        func.count().filter(ledger.c.cache_hit).label("cache_hits"),
                        func.coalesce(func.sum(ledger.c.saved_cost_usd), 0).label("saved"),
                    )
                    .where(
                        ledger.c.owner == owner,
                        ledger.c.created_at >= start,
                        ledger.c.created_at < end,
                    )
                    .group_by(key)
                    .order_by(key)
                )
            ).all()
        return [
            UsageGroup(
                str(r.key),
                int(r.calls),
                int(r.input_tokens),
                int(r.output_tokens),
                Decimal(r.cost_usd),
                int(r.unpriced),
                int(r.cache_hits),
                Decimal(r.saved),
            )
            for r in rows
        ]

    async def for_job(self, job_id: str) -> list[Charge]:
        async with self._reads.connect() as conn:
            rows = (
                await conn.execute(
                    select(ledger).where(ledger.c.job_id == job_id).order_by(ledger.c.created_at)
                )
            ).all()
        return [
            Charge(
                r.key,
                r.owner,
                r.job_id,
                r.job_type,
                r.model,
                r.input_tokens,
                r.output_tokens,
                None if r.cost_usd is None else Decimal(r.cost_usd),
                r.cache_hit,
                None if r.saved_cost_usd is None else Decimal(r.saved_cost_usd),
            )
            for r in rows
        ]
