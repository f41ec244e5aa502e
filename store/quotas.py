"""An owner's start quotas, counted in the database: jobs running at once, and the month's
budget. The API checks them at every start, and a schedule's run before it starts its job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from core.config import Settings
from core.errors import BudgetExhausted, LimitReached
from store import Stores
from store.database import outage_as_unavailable

# Which of these jobs run no more, as Temporal knows them now: closed, or unknown to it
# although admitted before the given time (a start that never happened).
EndedAmong = Callable[[Sequence[str], datetime, Mapping[str, datetime]], Awaitable[Sequence[str]]]

# A running-jobs refusal suggests trying again after this long.
RUNNING_RETRY_AFTER_S = 10
# Longer than any start takes, retries included: a job admitted this recently that Temporal
# does not know is still being started, not a start that failed.
START_GRACE = timedelta(minutes=2)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def admit_start(
    owner: str, job_id: str, settings: Settings, ended_among: EndedAmong, stores: Stores
) -> None:
    """BudgetExhausted (402) past the monthly budget, LimitReached (429) past the running cap;
    otherwise `job_id` counts as one of the owner's running jobs from now on.

    The count is the database's, taken under a per-owner lock: sequential starts never pass
    the cap, and concurrent ones pass it by none. A job that ended without its final event
    (terminated, timed out) still counts until its owner reaches the cap: then Temporal is
    asked about each running one, and those that closed are let go."""
    budget = settings.owner_monthly_budget_usd.get(owner)
    if budget is not None:
        since = month_start(datetime.now(UTC))
        async with outage_as_unavailable():
            spent = await stores.ledger.spent(owner, since)
        if spent >= budget:
            raise BudgetExhausted(
                f"this month's model calls cost ${spent:.4f}, reaching the monthly budget of "
                f"${budget} (AIJOBS_OWNER_MONTHLY_BUDGET_USD); new jobs may start next month"
            )
    limit = settings.owner_max_running
    async with outage_as_unavailable():
        running = await stores.running.admit(owner, job_id, limit)
    if running is not None:
        ended = await ended_among(
            [job.job_id for job in running],
            # A job admitted a moment ago may be starting still: Temporal does not know it yet.
            datetime.now(UTC) - START_GRACE,
            {job.job_id: job.started_at for job in running},
        )
        async with outage_as_unavailable():
            await stores.running.forget(ended)
            running = await stores.running.admit(owner, job_id, limit)
    if running is not None:
        raise LimitReached(
            f"{len(running)} of your jobs are running; the limit is {limit} at once "
            "(AIJOBS_OWNER_MAX_RUNNING): start this one when another has finished",
            headers={"Retry-After": str(RUNNING_RETRY_AFTER_S)},
        )
