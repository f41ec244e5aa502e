"""An owner's start quotas: jobs running at once, and the month's budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from api.job_service import JobService
from core.config import Settings
from core.errors import BudgetExhausted, LimitReached
from store import Ledger
from store.database import outage_as_unavailable

# A running-jobs refusal suggests trying again after this long.
RUNNING_RETRY_AFTER_S = 10
# An owner's running count is asked of Temporal's visibility at most this often per process.
RUNNING_REFRESH_S = 1.0


class RunningCounts:
    """Each owner's running jobs, counted by Temporal's visibility at most once per
    RUNNING_REFRESH_S in this process, plus the jobs started here since that count was asked.

    Visibility lags a start by about a second anyway, so a burst is counted no worse than
    asking on every start, and no longer costs the server a count query per request (it was
    one of the start path's round trips). A job that just ended may still be counted for up
    to RUNNING_REFRESH_S."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[float, asyncio.Future[int]]] = {}
        self._started: dict[str, int] = {}

    async def running(self, owner: str, count: Callable[[], Awaitable[int]]) -> int:
        now = time.monotonic()
        asked = self._counts.get(owner)
        if asked is None or now - asked[0] >= RUNNING_REFRESH_S or _failed(asked[1]):
            # One count in flight per owner: the requests of a burst share it.
            asked = (now, asyncio.ensure_future(count()))
            self._counts[owner] = asked
            self._started[owner] = 0
        return await asyncio.shield(asked[1]) + self._started.get(owner, 0)

    def started(self, owner: str) -> None:
        self._started[owner] = self._started.get(owner, 0) + 1


def _failed(count: asyncio.Future[int]) -> bool:
    return count.done() and (count.cancelled() or count.exception() is not None)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def check_start_quotas(
    owner: str, settings: Settings, jobs: JobService, ledger: Ledger, counts: RunningCounts
) -> None:
    """BudgetExhausted (402) past the monthly budget, LimitReached (429) past the running cap."""
    budget = settings.owner_monthly_budget_usd.get(owner)
    if budget is not None:
        since = month_start(datetime.now(UTC))
        async with outage_as_unavailable():
            spent = await ledger.spent(owner, since)
        if spent >= budget:
            raise BudgetExhausted(
                f"this month's model calls cost ${spent:.4f}, reaching the monthly budget of "
                f"${budget} (AIJOBS_OWNER_MONTHLY_BUDGET_USD); new jobs may start next month"
            )
    running = await counts.running(owner, jobs.running_count)
    limit = settings.owner_max_running
    if running >= limit:
        raise LimitReached(
            f"{running} of your jobs are running; the limit is {limit} at once "
            "(AIJOBS_OWNER_MAX_RUNNING): start this one when another has finished",
            headers={"Retry-After": str(RUNNING_RETRY_AFTER_S)},
        )
