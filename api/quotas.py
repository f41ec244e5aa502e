"""An owner's start quotas: jobs running at once, and the month's budget."""

from __future__ import annotations

from datetime import UTC, datetime

from api.job_service import JobService
from core.config import Settings
from core.errors import BudgetExhausted, LimitReached
from store import Ledger
from store.database import outage_as_unavailable

# A running-jobs refusal suggests trying again after this long.
RUNNING_RETRY_AFTER_S = 10


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def check_start_quotas(
    owner: str, settings: Settings, jobs: JobService, ledger: Ledger
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
    running = await jobs.running_count()
    limit = settings.owner_max_running
    if running >= limit:
        raise LimitReached(
            f"{running} of your jobs are running; the limit is {limit} at once "
            "(AIJOBS_OWNER_MAX_RUNNING): start this one when another has finished",
            headers={"Retry-After": str(RUNNING_RETRY_AFTER_S)},
        )
