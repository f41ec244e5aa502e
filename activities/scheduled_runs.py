"""A schedule's run asks here whether its job may start: the owner's quotas, as at any start."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import structlog
from temporalio import activity
from temporalio.client import Client

from core.config import Settings
from core.contracts.schedules import (
    ADMIT_SCHEDULED_JOB,
    Admission,
    AdmitScheduledJob,
    Refusal,
    RefusalType,
)
from core.errors import BudgetExhausted, LimitReached
from core.temporal import ended_among
from store import Stores
from store.quotas import admit_start

log = structlog.get_logger(__name__)


class ScheduleActivities:
    def __init__(self, client: Client, settings: Settings, stores: Stores) -> None:
        self._client = client
        self._settings = settings
        self._stores = stores
        self._rpc_timeout = timedelta(seconds=settings.rpc_timeout_s)

    @activity.defn(name=ADMIT_SCHEDULED_JOB)
    async def admit_scheduled_job(self, request: AdmitScheduledJob) -> Admission:
        """Admit the job as one of the owner's running jobs, within the monthly budget, and
        open its event log; or say why not. Repeating it for the same job admits it once.
        A lost database fails the attempt, and Temporal tries again."""
        try:
            await admit_start(
                request.owner, request.job_id, self._settings, self._ended, self._stores
            )
        except (BudgetExhausted, LimitReached) as refused:
            reason: RefusalType = (
                "budget_exhausted" if isinstance(refused, BudgetExhausted) else "rate_limited"
            )
            log.info(
                "schedule.run_refused", owner=request.owner, job_id=request.job_id, reason=reason
            )
            return Admission(refused=Refusal(type=reason, message=str(refused)))
        await self._stores.events.register(request.job_id, request.owner)
        return Admission()

    async def _ended(
        self, job_ids: Sequence[str], missing_since: datetime, admitted: Mapping[str, datetime]
    ) -> Sequence[str]:
        return await ended_among(self._client, job_ids, missing_since, admitted, self._rpc_timeout)
