"""Per-model request and token counts over a sliding window, shared by every worker, and the
pauses a provider asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.config import ModelLimit
from store.tables import model_blocks, model_calls

# Calls older than this count for nothing; retention removes them.
KEEP_CALLS = timedelta(hours=1)
# A call never settled (its worker died, or it failed) counts this long past its window:
# the provider may have seen it up to then.
UNSETTLED_GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class Admission:
    admitted: bool
    # The call's row, to correct its token count afterwards (None: the model has no limit).
    call_id: int | None = None
    # Not admitted: seconds until it may be.
    wait_s: float = 0.0


class ModelCallLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def admit(
        self, model: str, estimate: int, limit: ModelLimit | None, window: timedelta
    ) -> Admission:
        """Admit one call of about `estimate` tokens if the provider's pause is over and the
        window has room; else say how long to wait. One model's admissions take turns."""
        async with self._engine.begin() as conn:
            await conn.execute(
                select(func.pg_advisory_xact_lock(func.hashtext(f"model-limit:{model}")))
            )
            now: datetime = (await conn.execute(select(func.clock_timestamp()))).scalar_one()
            until = (
                await conn.execute(
                    select(model_blocks.c.until).where(model_blocks.c.model == model)
                )
            ).scalar_one_or_none()
            if until is not None and until > now:
                return Admission(False, wait_s=(until - now).total_seconds())
            if limit is None:
                return Admission(True)
            wait = await _wait_for_room(conn, model, estimate, limit, window, now)
            if wait > 0:
                return Admission(False, wait_s=wait)
            call_id = (
                await conn.execute(
                    insert(model_calls)
                    .values(model=model, at=now, tokens=estimate)
                    .returning(model_calls.c.id)
                )
            ).scalar_one()
        return Admission(True, call_id=int(call_id))

    async def settle(self, call_id: int, tokens: int) -> None:
        """Replace the estimate with what the response says the call used; from now on the
        call counts for one window."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(model_calls)
                .where(model_calls.c.id == call_id)
                .values(tokens=tokens, settled_at=func.clock_timestamp())
            )

    async def pause(self, model: str, seconds: float) -> None:
        """No call to `model` from any worker for `seconds` (kept if a longer pause is set)."""
        async with self._engine.begin() as conn:
            until = func.clock_timestamp() + timedelta(seconds=seconds)
            await conn.execute(
                insert(model_blocks)
                .values(model=model, until=until)
                .on_conflict_do_update(
                    index_elements=["model"],
                    set_={"until": func.greatest(model_blocks.c.until, until)},
                )
            )

    async def prune(self) -> int:
        async with self._engine.begin() as conn:
            calls = await conn.execute(
                delete(model_calls).where(model_calls.c.at < func.now() - KEEP_CALLS)
            )
            await conn.execute(delete(model_blocks).where(model_blocks.c.until < func.now()))
        return int(calls.rowcount)


async def _wait_for_room(
    conn: AsyncConnection,
    model: str,
    estimate: int,
    limit: ModelLimit,
    window: timedelta,
    now: datetime,
) -> float:
    """Seconds until a call of `estimate` tokens fits (0: it fits now).

    A call counts until a window after its answer was in (or after it was admitted, plus a
    grace, while unsettled), not a window after admission: the provider saw it somewhere in
    between, so every window of the provider's own count stays within the limit.
    """
    leaves = case(
        (model_calls.c.settled_at.is_(None), model_calls.c.at + window + UNSETTLED_GRACE),
        else_=model_calls.c.settled_at + window,
    ).label("leaves")
    rows = (
        await conn.execute(
            select(leaves, model_calls.c.tokens)
            .where(model_calls.c.model == model, leaves > now)
            .order_by(leaves)
        )
    ).all()
    waits = [0.0]
    if limit.requests is not None and len(rows) >= limit.requests:
        # The calls that leave first must go until one more fits.
        waits.append((rows[len(rows) - limit.requests].leaves - now).total_seconds())
    if limit.tokens is not None:
        # A call larger than the whole budget runs alone in an empty window.
        need = min(estimate, limit.tokens)
        total = sum(int(r.tokens) for r in rows)
        for row in rows:
            if total + need <= limit.tokens:
                break
            total -= int(row.tokens)
            waits.append((row.leaves - now).total_seconds())
    return max(waits)
