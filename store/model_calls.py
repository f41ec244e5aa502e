"""Per-model request and token counts over a sliding window, shared by every worker, and the
pauses a provider asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.config import ModelLimit
from store.reads import autocommit
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
        self._reads = autocommit(engine)

    async def admit(
        self, model: str, estimate: int, limit: ModelLimit | None, window: timedelta
    ) -> Admission:
        """Admit one call of about `estimate` tokens if the provider's pause is over and the
        window has room; else say how long to wait. One model's admissions take turns."""
        if limit is None:
            return await self._paused(model)
        async with self._engine.begin() as conn:
            # The lock first, then the clock: a call waiting on the lock sees the time it got it.
            locked = select(func.pg_advisory_xact_lock(func.hashtext(f"model-limit:{model}")))
            await conn.execute(locked)
            now: datetime = (await conn.execute(select(func.clock_timestamp()))).scalar_one()
            counted = _counted(model, window, now)
            state = (
                await conn.execute(
                    select(
                        select(model_blocks.c.until)
                        .where(model_blocks.c.model == model)
                        .scalar_subquery()
                        .label("until"),
                        select(func.count()).where(counted).scalar_subquery().label("calls"),
                        select(func.coalesce(func.sum(model_calls.c.tokens), 0))
                        .where(counted)
                        .scalar_subquery()
                        .label("tokens"),
                    )
                )
            ).one()
            if state.until is not None and state.until > now:
                return Admission(False, wait_s=(state.until - now).total_seconds())
            wait = await _wait_for_room(
                conn, model, estimate, limit, window, now, int(state.calls), int(state.tokens)
            )
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

    async def _paused(self, model: str) -> Admission:
        """A model without limits only waits out a provider's pause: one read, no lock, so
        its calls never queue behind each other."""
        async with self._reads.connect() as conn:
            row = (
                await conn.execute(
                    select(model_blocks.c.until - func.clock_timestamp()).where(
                        model_blocks.c.model == model,
                        model_blocks.c.until > func.clock_timestamp(),
                    )
                )
            ).scalar_one_or_none()
        return Admission(True) if row is None else Admission(False, wait_s=row.total_seconds())

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

    async def prune(self, batch: int = 10_000) -> int:
        """Remove up to `batch` calls that count for nothing any more (and lapsed pauses);
        returns how many calls went."""
        old = select(model_calls.c.id).where(model_calls.c.at < func.now() - KEEP_CALLS)
        async with self._engine.begin() as conn:
            calls = await conn.execute(
                delete(model_calls).where(model_calls.c.id.in_(old.limit(batch)))
            )
            await conn.execute(delete(model_blocks).where(model_blocks.c.until < func.now()))
        return int(calls.rowcount)


def _leaves(window: timedelta) -> ColumnElement[datetime]:
    """When a call stops counting: a window after its answer was in, or (while unsettled) a
    window plus a grace after it was admitted. The provider saw it somewhere in between, so
    every window of the provider's own count stays within the limit."""
    return case(
        (model_calls.c.settled_at.is_(None), model_calls.c.at + window + UNSETTLED_GRACE),
        else_=model_calls.c.settled_at + window,
    )


def _counted(model: str, window: timedelta, now: datetime) -> ColumnElement[bool]:
    """The model's calls that still count at `now` (each side of the OR has its index)."""
    return and_(
        model_calls.c.model == model,
        or_(
            and_(
                model_calls.c.settled_at.is_(None),
                model_calls.c.at > now - window - UNSETTLED_GRACE,
            ),
            model_calls.c.settled_at > now - window,
        ),
    )


async def _wait_for_room(
    conn: AsyncConnection,
    model: str,
    estimate: int,
    limit: ModelLimit,
    window: timedelta,
    now: datetime,
    calls: int,
    tokens: int,
) -> float:
    """Seconds until a call of `estimate` tokens fits (0: it fits now). Only a full window
    reads its calls, and only as many as must leave."""
    waits = [0.0]
    leaves = _leaves(window).label("leaves")
    if limit.requests is not None and calls >= limit.requests:
        # The calls that leave first must go until one more fits.
        first_to_go = (
            await conn.execute(
                select(leaves)
                .where(_counted(model, window, now))
                .order_by(leaves)
                .offset(calls - limit.requests)
                .limit(1)
            )
        ).scalar_one()
        waits.append((first_to_go - now).total_seconds())
    # A call larger than the whole budget runs alone in an empty window.
    need = min(estimate, limit.tokens) if limit.tokens is not None else 0
    if limit.tokens is not None and tokens + need > limit.tokens:
        gone = func.sum(model_calls.c.tokens).over(order_by=_leaves(window)).label("gone")
        ordered = select(leaves, gone).where(_counted(model, window, now)).subquery()
        enough = (
            await conn.execute(
                select(ordered.c.leaves)
                .where(tokens - ordered.c.gone + need <= limit.tokens)
                .order_by(ordered.c.leaves)
                .limit(1)
            )
        ).scalar_one_or_none()
        if enough is not None:
            waits.append((enough - now).total_seconds())
    return max(waits)
