"""Jobs as Temporal workflows: start, read, list and cancel them on behalf of one owner."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.job_views import VISIBILITY_FILTERS, error_from_failure, job_status, links, quote
from api.metrics import JOBS_STARTED
from api.page_tokens import sign, unsign
from api.reruns import Rerun, rerun_details
from api.run_inputs import run_input
from api.schemas import Job, JobCreated, JobPage, JobStatus, JobSummary, WaitingFor
from core.config import Reviewer, Settings
from core.contracts.human import (
    INVALID_ANSWER,
    UPDATE_NAME,
    WAITING_MEMO,
    AnswerRecord,
    Submission,
)
from core.contracts.job_type import JobType
from core.contracts.options import JobOptions
from core.contracts.plan import JobInput
from core.errors import (
    AijobsError,
    DatabaseUnavailable,
    InvalidInput,
    JobConflict,
    JobNotFound,
    StartUnconfirmed,
    WorkerTimeout,
)
from core.jobs import CREATED_AT, JOB_TYPES, PROGRESS_MEMO, job_id_for
from core.temporal import (
    JOB_OWNER,
    JOB_REVIEWERS,
    JOB_SCHEDULE,
    JOB_TYPE,
    ended_among,
    reviewer_attribute,
)
from store import Stores
from store.database import outage_as_unavailable
from store.job_requests import JobRequest

log = structlog.get_logger(__name__)

# The memo key holding a digest of the request, to tell a replay from a reused idempotency key.
REQUEST_DIGEST = "request_sha256"
# A start Temporal did not confirm is asked again, under the same id, this many times at most.
START_ATTEMPTS = 3
# Temporal's answers after which a request may or may not have been carried out.
OUTCOME_UNKNOWN = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}
)


class JobService:
    """Every call is scoped to `owner`: another owner's job is indistinguishable from none."""

    def __init__(
        self,
        client: Client,
        settings: Settings,
        owner: str,
        stores: Stores | None = None,
        reviewer: Reviewer | None = None,
    ) -> None:
        """With `reviewer`, the service sees the jobs granted to the reviewer's groups instead
        of the owner's, and answers only (the routes let reviewers do nothing else)."""
        self._client = client
        self._settings = settings
        self._owner = owner
        self._stores = stores
        self._reviewer = reviewer
        self._rpc_timeout = timedelta(seconds=settings.rpc_timeout_s)

    async def start(
        self,
        job_type: JobType,
        job_input: JobInput,
        idempotency_key: str,
        options: JobOptions | None = None,
        rerun: Rerun | None = None,
    ) -> tuple[JobCreated, bool]:
        """Start a job; returns it and whether it is new (False: an idempotent replay).

        Every start has a key (the caller's, or one the route made up), so a start whose
        outcome is unknown can be asked again without risk of a second job. The replay check
        compares what the caller sent, so a change to the deployment's fallback chain does
        not turn a retried request into a conflict."""
        options = options or JobOptions()
        digest = _digest(job_type.name, job_input, options, rerun)
        job_id = job_id_for(self._owner, idempotency_key)
        stores = self._stores_or_fail()
        started = await run_input(job_input, options, self._owner, self._settings, stores)
        if rerun is not None:
            started["recording"] = rerun.recording.model_dump(mode="json")
        request = JobRequest(
            job_id=job_id,
            owner=self._owner,
            type=job_type.name,
            input=job_input.model_dump(mode="json"),
            options=options.model_dump(mode="json", exclude_defaults=True),
            parent=rerun.recording.source if rerun else None,
            from_step=rerun.recording.from_step if rerun else None,
        )
        # Its event log knows the owner before any event, so watching asks Temporal nothing;
        # its request is kept for reruns.
        async with outage_as_unavailable():
            await stores.events.register(job_id, self._owner)
            await stores.requests.keep(request)
        details = rerun_details(self._settings, rerun) if rerun else None
        job, created = await self._start_workflow(job_type, job_id, started, digest, details)
        if created:
            log.info("job.started", job_id=job_id, job_type=job_type.name, owner=self._owner)
            JOBS_STARTED.labels(type=job_type.name).inc()
        return job, created

    async def _start_workflow(
        self,
        job_type: JobType,
        job_id: str,
        run_input: dict[str, Any],
        digest: str,
        details: str | None = None,
    ) -> tuple[JobCreated, bool]:
        """The job, and whether this request created it (False: the key named it before).

        When Temporal does not answer (a timeout, a lost connection), the start may or may
        not have landed: it is asked again under the same id, which either starts the job or
        finds the one the first attempt started. Only when Temporal stays silent past the
        deadline is the answer a 503 (StartUnconfirmed)."""
        uncertain = False
        for attempt in range(START_ATTEMPTS):
            try:
                run_id = await self._start_once(job_type, job_id, run_input, digest, details)
                job = JobCreated(
                    id=job_id,
                    type=job_type.name,
                    status="running",
                    links=links(self._settings, job_id, run_id),
                )
                return job, True
            except WorkflowAlreadyStartedError:
                existing = await self._describe(job_id)
                if await existing.memo_value(REQUEST_DIGEST, None) != digest:
                    raise JobConflict(
                        "this Idempotency-Key was already used with a different request body"
                    ) from None
                if uncertain:
                    # Our own earlier attempt started it: this request created the job.
                    log.info("job.start_confirmed", job_id=job_id)
                return self._created(existing), uncertain
            except RPCError as err:
                if err.status not in OUTCOME_UNKNOWN:
                    raise
                uncertain = True
                log.warning(
                    "job.start_unconfirmed", job_id=job_id, attempt=attempt + 1, reason=err.message
                )
                if attempt + 1 < START_ATTEMPTS:
                    # A refused connection fails at once: do not spin on it.
                    await asyncio.sleep(0.25 * 2**attempt)
        raise StartUnconfirmed(job_id)

    async def _start_once(
        self,
        job_type: JobType,
        job_id: str,
        run_input: dict[str, Any],
        digest: str,
        details: str | None,
    ) -> str | None:
        handle = await self._client.start_workflow(
            job_type.workflow_type,
            run_input,
            id=job_id,
            task_queue=self._settings.task_queue,
            # An idempotency key names one job for as long as Temporal retains it.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(JOB_OWNER, self._owner),
                    SearchAttributePair(JOB_TYPE, job_type.name),
                    *reviewer_attribute(run_input),
                ]
            ),
            memo={REQUEST_DIGEST: digest, CREATED_AT: datetime.now(UTC).isoformat()},
            # Its activities inherit this: task queues share out slots fairly by owner, so
            # one owner's backlog does not hold up another's calls.
            priority=Priority(fairness_key=self._owner),
            static_summary=f"{job_type.name} job for {self._owner}",
            static_details=details,
            rpc_timeout=self._rpc_timeout,
        )
        return handle.first_execution_run_id

    async def get(self, job_id: str) -> Job:
        desc = await self._describe(job_id)
        handle = self._client.get_workflow_handle(job_id)
        status = job_status(desc.status, desc.typed_search_attributes)
        job = Job(
            id=job_id,
            type=desc.typed_search_attributes.get(JOB_TYPE) or desc.workflow_type,
            status=status,
            created_at=await _created_at(desc),
            closed_at=desc.close_time,
            schedule=desc.typed_search_attributes.get(JOB_SCHEDULE),
            links=links(self._settings, job_id, desc.run_id),
        )
        if self._stores is not None:
            await self._lineage(job)
        if status == "waiting_for_input":
            waiting = await desc.memo_value(WAITING_MEMO, None)
            job.waiting_for = WaitingFor.model_validate(waiting) if waiting else None
        if status in ("running", "waiting_for_input"):
            job.progress = await self._progress(job_id)
        elif status == "completed":
            job.result = await handle.result(rpc_timeout=self._rpc_timeout)
            job.progress = await desc.memo_value(PROGRESS_MEMO, None)
        else:
            try:
                await handle.result(rpc_timeout=self._rpc_timeout)
            except WorkflowFailureError as failure:
                job.error = error_from_failure(failure.cause)
        return job

    async def _lineage(self, job: Job) -> None:
        """The job's parent and reruns (kept with the requests, in the database)."""
        requests = self._stores_or_fail().requests
        try:
            async with outage_as_unavailable():
                request = await requests.get(self._owner, job.id)
                job.reruns = await requests.reruns(self._owner, job.id)
        except DatabaseUnavailable:
            return  # the job still answers; its lineage comes back with the database
        if request is not None:
            job.parent, job.rerun_from = request.parent, request.from_step

    async def list(
        self,
        job_type: str | None,
        status: JobStatus | None,
        limit: int,
        page_token: str | None,
        schedule: str | None = None,
    ) -> JobPage:
        clauses = [f"{JOB_OWNER.name} = {quote(self._owner)}"]
        if job_type:
            clauses.append(f"{JOB_TYPE.name} = {quote(job_type)}")
        if schedule:
            clauses.append(f"{JOB_SCHEDULE.name} = {quote(schedule)}")
        if status:
            clauses.append(VISIBILITY_FILTERS[status])
        else:
            clauses.append("ExecutionStatus != 'ContinuedAsNew'")
        executions = self._client.list_workflows(
            " AND ".join(clauses),
            page_size=limit,
            next_page_token=unsign(page_token, self._owner, self._settings),
            rpc_timeout=self._rpc_timeout,
        )
        await executions.fetch_next_page()
        jobs = [
            JobSummary(
                id=ex.id,
                type=ex.typed_search_attributes.get(JOB_TYPE) or ex.workflow_type,
                status=job_status(ex.status, ex.typed_search_attributes),
                created_at=await _created_at(ex),
                closed_at=ex.close_time,
                schedule=ex.typed_search_attributes.get(JOB_SCHEDULE),
                links=links(self._settings, ex.id, ex.run_id),
            )
            for ex in executions.current_page or []
        ]
        token = executions.next_page_token
        return JobPage(
            jobs=jobs,
            next_page_token=sign(token, self._owner, self._settings) if token else None,
        )

    async def cancel(self, job_id: str) -> None:
        desc = await self._describe(job_id)
        if desc.status != WorkflowExecutionStatus.RUNNING:
            raise JobConflict(
                f"job {job_id!r} is already {job_status(desc.status, desc.typed_search_attributes)}"
            )
        await self._client.get_workflow_handle(job_id).cancel(rpc_timeout=self._rpc_timeout)
        log.info("job.cancel_requested", job_id=job_id, owner=self._owner)

    async def submit_input(
        self,
        job_id: str,
        name: str,
        value: dict[str, Any],
        question_id: str | None = None,
        via: Literal["api", "inbox"] = "api",
    ) -> AnswerRecord:
        """Answer the job's pending question through its validated Update; a 409 naming the
        reviewer who holds a claim on it, unless that is the caller."""
        desc = await self._describe(job_id)
        job_type = JOB_TYPES.get(desc.typed_search_attributes.get(JOB_TYPE) or "")
        if job_type is None or not job_type.accepts_input:
            raise JobConflict(f"job {job_id!r} takes no input")
        status = job_status(desc.status, desc.typed_search_attributes)
        if status not in ("running", "waiting_for_input"):
            raise JobConflict(f"job {job_id!r} is already {status}; it takes no more input")
        if question_id is None:
            waiting = await desc.memo_value(WAITING_MEMO, None)
            if not waiting:
                raise JobConflict(f"job {job_id!r} is not waiting for input")
            question_id = str(waiting.get("id") or "") or None
        answerer = self._reviewer.name if self._reviewer else self._owner
        if question_id is not None:
            await self._check_claim(job_id, question_id, answerer)
        submission = Submission(
            name=name, value=value, question_id=question_id, answered_by=answerer, via=via
        )
        # The same answer to the same question, sent twice, is one Update (Temporal dedupes by
        # id within a run); the same answer to the next question is a new one.
        canonical = json.dumps([answerer, question_id, name, value], sort_keys=True).encode()
        update_id = f"answer-{hashlib.sha256(canonical).hexdigest()[:32]}"
        handle = self._client.get_workflow_handle(job_id)
        try:
            async with asyncio.timeout(self._settings.input_timeout_s):
                record: AnswerRecord = await handle.execute_update(
                    UPDATE_NAME,
                    submission,
                    id=update_id,
                    result_type=AnswerRecord,
                    rpc_timeout=self._rpc_timeout,
                )
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise WorkerTimeout(
                f"no worker took the answer within {self._settings.input_timeout_s:g}s; it may "
                "still be applied, so read the job before sending it again"
            ) from None
        except WorkflowUpdateFailedError as failed:
            raise _refusal(failed.cause) from None
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise JobConflict(f"job {job_id!r} closed before the answer arrived") from err
            raise
        log.info("job.input_accepted", job_id=job_id, name=name, by=answerer, via=via)
        return record

    async def _check_claim(self, job_id: str, question_id: str, answerer: str) -> None:
        if self._stores is None:
            return
        async with outage_as_unavailable():
            claims = await self._stores.claims.holders([(job_id, question_id)])
        claim = claims.get((job_id, question_id))
        if claim is not None and claim.reviewer != answerer:
            raise JobConflict(
                f"question {question_id!r} is claimed by {claim.reviewer} until "
                f"{claim.expires_at.isoformat(timespec='seconds')}: leave it to them, or answer "
                "once the claim is released or lapses"
            )

    async def ended_among(
        self, job_ids: Sequence[str], missing_since: datetime, admitted: Mapping[str, datetime]
    ) -> Sequence[str]:
        return await ended_among(self._client, job_ids, missing_since, admitted, self._rpc_timeout)

    async def closed(self, job_id: str) -> Job | None:
        """The job if it has closed, else None: one describe, no query to a worker."""
        desc = await self._describe(job_id)
        if desc.status in (None, WorkflowExecutionStatus.RUNNING):
            return None
        return await self.get(job_id)

    async def check_owned(self, job_id: str) -> None:
        """JobNotFound unless the job is the owner's."""
        await self._describe(job_id)

    async def _describe(self, job_id: str) -> WorkflowExecutionDescription:
        try:
            desc = await self._client.get_workflow_handle(job_id).describe(
                rpc_timeout=self._rpc_timeout
            )
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise JobNotFound(job_id) from err
            raise
        attributes = desc.typed_search_attributes
        if self._reviewer is not None:
            if not self._reviewer.groups & set(attributes.get(JOB_REVIEWERS) or ()):
                raise JobNotFound(job_id)
        elif attributes.get(JOB_OWNER) != self._owner:
            raise JobNotFound(job_id)
        return desc

    async def _progress(self, job_id: str) -> dict[str, Any] | None:
        """A running job's progress as its events last reported it: read from the database,
        so it answers whether or not any worker is there (None before its first event)."""
        try:
            async with outage_as_unavailable():
                head = await self._stores_or_fail().events.head(job_id)
        except DatabaseUnavailable:
            return None  # the status still answers; the progress comes back with the database
        return head.progress if head else None

    def _stores_or_fail(self) -> Stores:
        if self._stores is None:
            raise RuntimeError("JobService needs the stores for this")
        return self._stores

    def _created(self, desc: WorkflowExecutionDescription) -> JobCreated:
        return JobCreated(
            id=desc.id,
            type=desc.typed_search_attributes.get(JOB_TYPE) or desc.workflow_type,
            status=job_status(desc.status, desc.typed_search_attributes),
            links=links(self._settings, desc.id, desc.run_id),
        )


async def _created_at(execution: WorkflowExecution) -> datetime:
    """When the job was started, whatever runs followed; a run started outside the API (no
    memo) was started when its run was."""
    created = await execution.memo_value(CREATED_AT, None)
    return datetime.fromisoformat(created) if isinstance(created, str) else execution.start_time


def _refusal(cause: BaseException) -> AijobsError:
    """The workflow's reason for refusing an answer, as an API error."""
    if isinstance(cause, ApplicationError) and cause.type == INVALID_ANSWER:
        errors = cause.details[0] if cause.details else []
        return InvalidInput(("body", "value"), cause.message, errors=list(errors))
    message = cause.message if isinstance(cause, ApplicationError) else str(cause)
    return JobConflict(message)


def _digest(job_type: str, job_input: BaseModel, options: JobOptions, rerun: Rerun | None) -> str:
    request = {
        "type": job_type,
        "input": job_input.model_dump(mode="json"),
        "options": options.model_dump(mode="json", exclude_defaults=True),
    }
    if rerun is not None:
        recording = rerun.recording
        request["rerun"] = {
            "parent": recording.source,
            "from_step": recording.from_step,
            "reuse_answers": rerun.reuse_answers,
        }
    canonical = json.dumps(request, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
