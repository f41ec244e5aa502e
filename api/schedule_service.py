"""Schedules as Temporal Schedules, on behalf of one owner: create, read, list, change,
trigger, backfill and delete them. Each run is a `ScheduledRunWorkflow` that checks the owner's
quotas and starts an ordinary job (workflows/scheduled_run.py)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleListState,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionDescription,
)
from temporalio.client import Schedule as TemporalSchedule
from temporalio.client import ScheduleBackfill as TemporalBackfill
from temporalio.common import Priority, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api.job_requests import checked_job
from api.job_views import job_status, quote
from api.page_tokens import sign, unsign
from api.run_inputs import run_input
from api.schedule_spec import runs_between, spec_of, timetable
from api.schemas import (
    BackfillAccepted,
    JobCreate,
    Schedule,
    ScheduleBackfill,
    ScheduleChange,
    ScheduleCreate,
    ScheduledJob,
    ScheduleLinks,
    ScheduleOverlap,
    SchedulePage,
    ScheduleRun,
    ScheduleSummary,
)
from core.config import Settings
from core.contracts.schedules import (
    REFUSAL_MEMO,
    SCHEDULED_RUN_WORKFLOW,
    Refusal,
    ScheduledRun,
    Timetable,
)
from core.errors import InvalidInput, JobConflict, LimitReached, ScheduleNotFound
from core.jobs import scheduled_job_id
from core.temporal import JOB_OWNER, JOB_SCHEDULE, JOB_TYPE
from store import Stores

log = structlog.get_logger(__name__)

OVERLAPS: dict[ScheduleOverlap, ScheduleOverlapPolicy] = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
}
_OVERLAP_NAMES = {policy: name for name, policy in OVERLAPS.items()}
# A run missed while Temporal was away still starts if it is this late at most; past it, the
# next one is waited for (Temporal's own default, a year, would start a year of missed runs).
CATCHUP_WINDOW = timedelta(hours=1)
NEXT_RUNS = 5
# How long a change's answer waits for Temporal to show it.
SETTLE_S = 5.0
# A backfill may start at most this many runs at once.
MAX_BACKFILL_RUNS = 100


def schedule_key(owner: str, schedule_id: str) -> str:
    """Temporal's id of the owner's schedule: readable in the UI, and one per owner and id."""
    digest = hashlib.sha256(f"{owner}\0{schedule_id}".encode()).hexdigest()[:12]
    return f"sched-{schedule_id}-{digest}"


class ScheduleService:
    """Every call is scoped to `owner`: another owner's schedule is indistinguishable from none."""

    def __init__(self, client: Client, settings: Settings, owner: str, stores: Stores) -> None:
        self._client = client
        self._settings = settings
        self._owner = owner
        self._stores = stores
        self._rpc_timeout = timedelta(seconds=settings.rpc_timeout_s)

    async def create(self, body: ScheduleCreate) -> Schedule:
        table = timetable(
            body.cron, body.every, body.timezone, self._settings.min_schedule_interval_s
        )
        run = await self._run(body.id or f"sch-{uuid.uuid4().hex[:12]}", table, body.job)
        await self._within_limit()
        key = schedule_key(self._owner, run.schedule)
        try:
            await self._client.create_schedule(
                key,
                TemporalSchedule(
                    action=self._action(key, run),
                    spec=spec_of(table),
                    policy=SchedulePolicy(
                        overlap=OVERLAPS[body.overlap], catchup_window=CATCHUP_WINDOW
                    ),
                    state=ScheduleState(paused=body.paused, note=body.note or ""),
                ),
                search_attributes=self._attributes(run),
                rpc_timeout=self._rpc_timeout,
            )
        except ScheduleAlreadyRunningError:
            raise JobConflict(
                f"schedule {run.schedule!r} exists: change it with PATCH, or delete it first"
            ) from None
        except RPCError as err:
            raise _refused_spec(err, table) from err
        log.info("schedule.created", schedule=run.schedule, owner=self._owner, key=key)
        return await self.get(run.schedule)

    async def get(self, schedule_id: str) -> Schedule:
        desc = await self._describe(schedule_id)
        run = await self._decoded(desc)
        spec = desc.schedule
        summary = self._summary(schedule_id, run.job_type, spec.state, desc.info.next_action_times)
        options = dict(run.run_input.get("options") or {})
        return Schedule(
            **summary.model_dump(),
            cron=run.timetable.cron,
            every=run.timetable.every,
            timezone=run.timetable.timezone,
            job=ScheduledJob(
                type=run.job_type,
                input={k: v for k, v in run.run_input.items() if k != "options"},
                options=options,
            ),
            overlap=_OVERLAP_NAMES.get(spec.policy.overlap, "skip"),
            created_at=desc.info.created_at,
            next_runs=[] if spec.state.paused else list(desc.info.next_action_times[:NEXT_RUNS]),
            recent_runs=await self._recent_runs(desc),
        )

    async def page(self, limit: int, page_token: str | None) -> SchedulePage:
        schedules = await self._client.list_schedules(
            f"{JOB_OWNER.name} = {quote(self._owner)}",
            page_size=limit,
            next_page_token=unsign(page_token, self._owner, self._settings),
            rpc_timeout=self._rpc_timeout,
        )
        await schedules.fetch_next_page()
        found = []
        for entry in schedules.current_page or []:
            attributes = entry.typed_search_attributes
            schedule_id = attributes.get(JOB_SCHEDULE)
            if schedule_id is None or entry.schedule is None:
                continue
            found.append(
                self._summary(
                    schedule_id,
                    attributes.get(JOB_TYPE) or "",
                    entry.schedule.state,
                    entry.info.next_action_times if entry.info else [],
                )
            )
        token = schedules.next_page_token
        return SchedulePage(
            schedules=found,
            next_page_token=sign(token, self._owner, self._settings) if token else None,
        )

    async def change(self, schedule_id: str, body: ScheduleChange) -> Schedule:
        desc = await self._describe(schedule_id)
        run = await self._decoded(desc)
        table = run.timetable
        if (body.cron, body.every, body.timezone) != (None, None, None):
            # A new cron or interval replaces the old timetable; a zone alone re-reads it.
            given = (body.cron, body.every) != (None, None)
            table = timetable(
                body.cron if given else table.cron,
                body.every if given else table.every,
                body.timezone or table.timezone,
                self._settings.min_schedule_interval_s,
            )
        if body.job is not None:
            run = await self._run(schedule_id, table, body.job)
        run = run.model_copy(update={"timetable": table})
        handle = self._handle(schedule_id)
        key = schedule_key(self._owner, schedule_id)

        def updated(current: ScheduleUpdateInput) -> ScheduleUpdate:
            schedule = current.description.schedule
            schedule.action = self._action(key, run)
            schedule.spec = spec_of(table)
            if body.overlap is not None:
                schedule.policy.overlap = OVERLAPS[body.overlap]
            if body.paused is not None:
                schedule.state.paused = body.paused
                schedule.state.note = body.note or ("paused" if body.paused else "resumed")
            elif body.note is not None:
                schedule.state.note = body.note
            return ScheduleUpdate(schedule=schedule, search_attributes=self._attributes(run))

        try:
            await handle.update(updated, rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            raise _refused_spec(err, table) from err
        log.info("schedule.changed", schedule=schedule_id, owner=self._owner)
        await self._settled(schedule_id, desc.info.last_updated_at or desc.info.created_at)
        return await self.get(schedule_id)

    async def _settled(self, schedule_id: str, before: datetime) -> None:
        """Wait, briefly, until a read shows the update: Temporal applies it to the schedule
        a moment after accepting it, and the answer should show the schedule as changed."""
        deadline = asyncio.get_running_loop().time() + SETTLE_S
        while asyncio.get_running_loop().time() < deadline:
            desc = await self._describe(schedule_id)
            if (desc.info.last_updated_at or before) > before:
                return
            await asyncio.sleep(0.05)  # pacing the reads, not synchronising on a guess

    async def trigger(self, schedule_id: str) -> None:
        await self._describe(schedule_id)
        await self._handle(schedule_id).trigger(rpc_timeout=self._rpc_timeout)
        log.info("schedule.triggered", schedule=schedule_id, owner=self._owner)

    async def backfill(self, schedule_id: str, body: ScheduleBackfill) -> BackfillAccepted:
        if body.end < body.start:
            raise InvalidInput(("body", "end"), "end is before start")
        if body.end > datetime.now(UTC):
            raise InvalidInput(("body", "end"), "end is in the future: a backfill runs past times")
        run = await self._decoded(await self._describe(schedule_id))
        runs = runs_between(run.timetable, body.start, body.end, MAX_BACKFILL_RUNS)
        if runs > MAX_BACKFILL_RUNS:
            raise InvalidInput(
                ("body", "start"),
                f"the range holds more than {MAX_BACKFILL_RUNS} runs: backfill it in parts",
            )
        if runs == 0:
            raise InvalidInput(("body", "start"), "the schedule has no run time in this range")
        await self._handle(schedule_id).backfill(
            TemporalBackfill(start_at=body.start, end_at=body.end, overlap=OVERLAPS[body.overlap]),
            rpc_timeout=self._rpc_timeout,
        )
        log.info("schedule.backfilled", schedule=schedule_id, owner=self._owner, runs=runs)
        return BackfillAccepted(id=schedule_id, start=body.start, end=body.end, runs=runs)

    async def delete(self, schedule_id: str) -> None:
        """Jobs its runs started go on; no new run starts."""
        await self._describe(schedule_id)
        await self._handle(schedule_id).delete(rpc_timeout=self._rpc_timeout)
        log.info("schedule.deleted", schedule=schedule_id, owner=self._owner)

    async def _run(self, schedule_id: str, table: Timetable, job: JobCreate) -> ScheduledRun:
        """What each run starts: the job, checked and bounded exactly as a start is."""
        job_type, job_input = await checked_job(
            job, self._owner, self._settings, self._stores, at=("body", "job")
        )
        return ScheduledRun(
            schedule=schedule_id,
            owner=self._owner,
            timetable=table,
            job_type=job_type.name,
            workflow_type=job_type.workflow_type,
            run_input=await run_input(
                job_input, job.options, self._owner, self._settings, self._stores
            ),
        )

    async def _within_limit(self) -> None:
        most = self._settings.owner_max_schedules
        schedules = await self._client.list_schedules(
            f"{JOB_OWNER.name} = {quote(self._owner)}",
            page_size=most,
            rpc_timeout=self._rpc_timeout,
        )
        await schedules.fetch_next_page()
        if len(schedules.current_page or []) >= most:
            raise LimitReached(
                f"you have {most} schedules, the most one owner may keep "
                "(AIJOBS_OWNER_MAX_SCHEDULES): delete one first"
            )

    def _action(self, key: str, run: ScheduledRun) -> ScheduleActionStartWorkflow:
        return ScheduleActionStartWorkflow(
            SCHEDULED_RUN_WORKFLOW,
            run,
            # Each run's id is this plus its scheduled time, and names the job it starts.
            id=key,
            task_queue=self._settings.task_queue,
            # Found in the UI beside the schedule's jobs; no owner, so not listed as a job.
            typed_search_attributes=TypedSearchAttributes(
                [SearchAttributePair(JOB_SCHEDULE, run.schedule)]
            ),
            static_summary=f"run of {self._owner}'s schedule {run.schedule}: {run.job_type}",
            # Its quota check shares the task queue fairly by owner, as the job's calls do.
            priority=Priority(fairness_key=self._owner),
        )

    def _attributes(self, run: ScheduledRun) -> TypedSearchAttributes:
        return TypedSearchAttributes(
            [
                SearchAttributePair(JOB_OWNER, self._owner),
                SearchAttributePair(JOB_SCHEDULE, run.schedule),
                SearchAttributePair(JOB_TYPE, run.job_type),
            ]
        )

    def _summary(
        self,
        schedule_id: str,
        job_type: str,
        state: ScheduleState | ScheduleListState,
        next_times: Sequence[datetime],
    ) -> ScheduleSummary:
        ui = self._settings.ui_url.rstrip("/")
        key = schedule_key(self._owner, schedule_id)
        return ScheduleSummary(
            id=schedule_id,
            job_type=job_type,
            paused=state.paused,
            note=state.note or None,
            next_run=None if state.paused or not next_times else next_times[0],
            links=ScheduleLinks(
                self=f"/v1/schedules/{schedule_id}",
                ui=f"{ui}/namespaces/{self._settings.temporal_namespace}/schedules/{key}",
            ),
        )

    def _handle(self, schedule_id: str) -> ScheduleHandle:
        return self._client.get_schedule_handle(schedule_key(self._owner, schedule_id))

    async def _describe(self, schedule_id: str) -> ScheduleDescription:
        try:
            desc = await self._handle(schedule_id).describe(rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise ScheduleNotFound(schedule_id) from err
            raise
        if desc.typed_search_attributes.get(JOB_OWNER) != self._owner:
            raise ScheduleNotFound(schedule_id)
        return desc

    async def _decoded(self, desc: ScheduleDescription) -> ScheduledRun:
        """The schedule's action, as it was given (describe returns its raw payloads)."""
        action = desc.schedule.action
        if not isinstance(action, ScheduleActionStartWorkflow) or not action.args:
            raise ScheduleNotFound(desc.id)  # not one of ours
        raw = [arg for arg in action.args if isinstance(arg, Payload)]
        if raw:
            [run] = await self._client.data_converter.decode(raw, [ScheduledRun])
        else:
            run = action.args[0]
        return ScheduledRun.model_validate(run)

    async def _recent_runs(self, desc: ScheduleDescription) -> list[ScheduleRun]:
        limit = asyncio.Semaphore(5)

        async def shown(scheduled_at: datetime, started_at: datetime, run_id: str) -> ScheduleRun:
            async with limit:
                return await self._run_view(scheduled_at, started_at, run_id)

        recent = [
            shown(result.scheduled_at, result.started_at, result.action.workflow_id)
            for result in reversed(desc.info.recent_actions)
            if isinstance(result.action, ScheduleActionExecutionStartWorkflow)
        ]
        return list(await asyncio.gather(*recent))

    async def _run_view(
        self, scheduled_at: datetime, started_at: datetime, run_id: str
    ) -> ScheduleRun:
        """A run and its job: the job's status, or why the run started none."""
        job_id = scheduled_job_id(self._owner, run_id)
        view = ScheduleRun(
            scheduled_at=scheduled_at, started_at=started_at, job_id=None, status="starting"
        )
        job = await self._described(job_id)
        if job is not None:
            status = job_status(job.status, job.typed_search_attributes)
            return view.model_copy(update={"job_id": job_id, "status": status})
        launched = await self._described(run_id)
        if launched is None:
            return view  # past Temporal's retention
        refused = await launched.memo_value(REFUSAL_MEMO, None)
        if refused is not None:
            reason = Refusal.model_validate(refused)
            return view.model_copy(update={"status": "refused", "refused": reason})
        return view

    async def _described(self, workflow_id: str) -> WorkflowExecutionDescription | None:
        """The workflow, or None when Temporal has none by that id."""
        try:
            return await self._client.get_workflow_handle(workflow_id).describe(
                rpc_timeout=self._rpc_timeout
            )
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return None


def _refused_spec(err: RPCError, table: Timetable) -> Exception:
    """Temporal's refusal of a timetable the door let through, as a 422 on its field."""
    if err.status != RPCStatusCode.INVALID_ARGUMENT:
        return err
    field = "cron" if table.cron is not None else "every"
    return InvalidInput(("body", field), f"Temporal refused the timetable: {err.message}")
