"""HTTP shapes of the API: what callers send and what they get back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.contracts.options import JobOptions
from core.contracts.recording import STEP_NAME_PATTERN, StepKind
from core.contracts.schedules import Refusal

JobStatus = Literal[
    "running", "waiting_for_input", "completed", "failed", "cancelled", "timed_out", "terminated"
]


def _in_utc(moment: datetime) -> datetime:
    """The moment in UTC (a time without a zone is UTC); a zone that pushes it past year 1 or
    9999 is a 422, not an overflow."""
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


UtcTime = Annotated[datetime, AfterValidator(_in_utc)]


class JobCreate(BaseModel):
    """Start a job: its type, and an input that the type's own model validates."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: str = Field(min_length=1, max_length=100, examples=["summarize"])
    input: dict[str, Any] = Field(examples=[{"text": "A long text...", "max_words": 100}])
    options: JobOptions = Field(default_factory=JobOptions)


class JobLinks(BaseModel):
    self: str
    ui: str = Field(description="The run in the Temporal Web UI.")


class JobCreated(BaseModel):
    id: str
    type: str
    status: JobStatus
    links: JobLinks


class JobError(BaseModel):
    """Why a job did not complete: the error type and message from the failure chain."""

    type: str
    message: str


class WaitingFor(BaseModel):
    """What a job in `waiting_for_input` needs from a person."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(
        "", description="This question's id; send it back as `question_id` with the answer."
    )
    name: str
    prompt: str
    answer_schema: dict[str, Any] = Field(
        alias="schema", description="JSON schema the answer's `value` must fit."
    )
    deadline: datetime
    context: dict[str, Any] | None = Field(
        None,
        description="What to decide on, in full: the draft (`draft_review`), or the proposed "
        "tool, its validated arguments and why it needs approval (`agent`).",
    )


class Job(BaseModel):
    id: str
    type: str
    status: JobStatus
    waiting_for: WaitingFor | None = None
    progress: dict[str, Any] | None = None
    result: Any = None
    error: JobError | None = None
    created_at: datetime
    closed_at: datetime | None = None
    schedule: str | None = Field(None, description="The schedule whose run started it.")
    parent: str | None = Field(None, description="The job this one reruns.")
    rerun_from: str | None = Field(
        None,
        description="The parent's step this rerun ran fresh from (null: from the first "
        "step whose request differed).",
    )
    reruns: list[str] = Field(
        default_factory=list, description="Jobs that rerun this one, oldest first (at most 100)."
    )
    links: JobLinks


class JobSummary(BaseModel):
    id: str
    type: str
    status: JobStatus
    created_at: datetime
    closed_at: datetime | None = None
    schedule: str | None = Field(None, description="The schedule whose run started it.")
    links: JobLinks


class JobPage(BaseModel):
    jobs: list[JobSummary]
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )


class InputSubmit(BaseModel):
    """An answer to the question a job is waiting on."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["review"])
    value: dict[str, Any] = Field(examples=[{"decision": "approve"}])
    question_id: str | None = Field(
        None,
        max_length=100,
        description="`waiting_for.id` of the question answered; the pending one when omitted. "
        "An answer to a question that is no longer pending is a 409.",
    )


class InputAccepted(BaseModel):
    """The answer as the job recorded it."""

    question_id: str | None = None
    name: str
    value: dict[str, Any]
    answered_by: str
    at: datetime


class CancelAccepted(BaseModel):
    id: str
    cancel_requested: Literal[True] = True


class JobTypeInfo(BaseModel):
    name: str
    description: str
    input_schema: dict[str, Any]
    # Whether its jobs ask people questions (answered with `POST /v1/jobs/{id}/input`).
    accepts_input: bool = False


class ErrorBody(BaseModel):
    """Every error the API answers: a stable `code`, a sentence, the request's id (quote it
    when reporting a 500), and for a 422 the field errors in FastAPI's shape."""

    code: str = Field(description="Stable, machine-readable: `job_not_found`, `rate_limited`...")
    message: str
    request_id: str | None = None
    detail: list[dict[str, Any]] | None = Field(
        None, description="422 only: one entry per field, with `loc`, `msg` and `type`."
    )


class UsageLine(BaseModel):
    """Model calls in one group (a day, a model, a job type), or in all of them."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float = Field(description="Dollars of the calls whose model has a known price.")
    unpriced_calls: int = Field(description="Calls to models without a known price.")
    cache_hits: int = Field(0, description="Answers from the response cache: no model call.")
    saved_cost_usd: float = Field(0.0, description="What those answers would have cost.")


class UsageReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    group_by: Literal["day", "model", "type"]
    groups: list[UsageLine]
    total: UsageLine


class WebhookSecret(BaseModel):
    """The owner's Standard Webhooks secret: verify each webhook's `webhook-signature` with it
    (for example with the `standardwebhooks` package)."""

    secret: str


class WebhookRedelivery(BaseModel):
    """A redelivery started: the same message, with the same `webhook-id`."""

    webhook_id: str
    event: str


# What a schedule does when a run is due while the last one's job still runs.
ScheduleOverlap = Literal["skip", "buffer_one", "allow_all", "cancel_other"]
SCHEDULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Cron = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Five fields (minute hour day month weekday), as in crontab.",
        examples=["0 2 * * *"],
    ),
]
Every = Annotated[
    str,
    Field(
        min_length=2,
        max_length=32,
        description="An interval such as `90s`, `15m`, `2h`, `1d` or `1h30m`.",
        examples=["15m"],
    ),
]
TimeZone = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="IANA name the cron is read in (`Europe/Berlin`).",
        examples=["UTC"],
    ),
]
Note = Annotated[str, Field(max_length=500)]


class ScheduleCreate(BaseModel):
    """Run a job on a timetable: `cron` or `every`, not both."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str | None = Field(
        None,
        pattern=SCHEDULE_ID_PATTERN,
        description="Yours to choose (letters, digits, `.`, `_`, `-`; up to 64); made up "
        "when omitted.",
        examples=["nightly-evals"],
    )
    cron: Cron | None = None
    every: Every | None = None
    timezone: TimeZone = "UTC"
    job: JobCreate
    overlap: ScheduleOverlap = Field(
        "skip",
        description="When a run is due while the last run's job still runs: `skip` it, "
        "`buffer_one` (start it once that one ends), `allow_all`, or `cancel_other` (cancel "
        "the running job).",
    )
    paused: bool = False
    note: Note | None = None


class ScheduleChange(BaseModel):
    """What to change: any of the fields; `cron` or `every` replaces the timetable."""

    model_config = ConfigDict(extra="forbid", strict=True)

    cron: Cron | None = None
    every: Every | None = None
    timezone: TimeZone | None = None
    job: JobCreate | None = None
    overlap: ScheduleOverlap | None = None
    paused: bool | None = Field(None, description="Pause (true) or resume (false).")
    note: Note | None = Field(None, description="Why, shown with the schedule.")


class ScheduledJob(BaseModel):
    """The job each run starts, as it starts it: documents given by text are stored once, and
    named by id here."""

    type: str
    input: dict[str, Any]
    options: dict[str, Any]


class ScheduleRun(BaseModel):
    """One of the schedule's recent runs, and the job it started."""

    scheduled_at: datetime
    started_at: datetime
    job_id: str | None = Field(description="Null when the run started no job.")
    status: JobStatus | Literal["starting", "refused"] = Field(
        description="The job's status; `refused` when a quota kept the run from starting it."
    )
    refused: Refusal | None = Field(
        None,
        description="Why no job started: the owner's running jobs (`rate_limited`) or "
        "monthly budget (`budget_exhausted`).",
    )


class ScheduleLinks(BaseModel):
    self: str
    ui: str = Field(description="The schedule in the Temporal Web UI.")


class ScheduleSummary(BaseModel):
    id: str
    job_type: str
    paused: bool
    note: str | None = None
    next_run: datetime | None = None
    links: ScheduleLinks


class Schedule(ScheduleSummary):
    cron: str | None = None
    every: str | None = None
    timezone: str
    job: ScheduledJob
    overlap: ScheduleOverlap
    created_at: datetime | None = None
    next_runs: list[datetime] = Field(description="The next five, while not paused.")
    recent_runs: list[ScheduleRun] = Field(description="The last ten runs, newest first.")


class SchedulePage(BaseModel):
    schedules: list[ScheduleSummary]
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )


class ScheduleBackfill(BaseModel):
    """Run the schedule for the times it would have run between `start` and `end` (both
    included), now."""

    model_config = ConfigDict(extra="forbid")

    start: UtcTime
    end: UtcTime
    overlap: ScheduleOverlap = Field(
        "allow_all",
        description="Between the backfilled runs; by default all start (the running-jobs cap "
        "still holds).",
    )


class BackfillAccepted(BaseModel):
    id: str
    start: datetime
    end: datetime
    runs: int = Field(description="How many runs the range holds.")


class TriggerAccepted(BaseModel):
    id: str
    triggered: Literal[True] = True


class InboxItem(BaseModel):
    """A question a reviewer may answer: `POST /v1/jobs/{job_id}/input` with `name`, a `value`
    that fits `schema`, and `question_id`."""

    model_config = ConfigDict(populate_by_name=True)

    job_id: str
    job_type: str
    question_id: str
    name: str
    prompt: str
    context: dict[str, Any] | None = None
    answer_schema: dict[str, Any] = Field(alias="schema")
    asked_at: datetime | None = None
    deadline: datetime
    groups: list[str] = Field(description="The job's reviewer groups that are yours.")
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )


class ClaimView(BaseModel):
    question_id: str
    job_id: str
    claimed_by: str | None
    expires_at: datetime | None = None


class CollectionSummary(BaseModel):
    name: str
    embedding_model: str
    dimension: int
    documents: int
    chunks: int
    tokens: int
    created_at: datetime
    last_ingest: datetime


class CollectionDocument(BaseModel):
    id: str
    name: str
    source: str | None = Field(None, description="The URL it was fetched from, if any.")
    chunks: int
    tokens: int
    updated_at: datetime


class CollectionDetail(CollectionSummary):
    document_list: list[CollectionDocument]


class CollectionPage(BaseModel):
    collections: list[CollectionSummary]


class SearchHit(BaseModel):
    chunk_id: int
    document: str
    document_id: str
    position: int
    headings: list[str]
    text: str
    score: float = Field(description="Reciprocal-rank fusion of the two rankings.")
    vector_rank: int | None = Field(description="Rank by cosine similarity, if among the first.")
    text_rank: int | None = Field(description="Rank by full-text match, if it matched.")


class SearchResults(BaseModel):
    collection: str
    query: str
    hits: list[SearchHit]
    took_ms: float


class RerunCreate(BaseModel):
    """Rerun a job: the same type, its input and options with these fields changed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    from_step: str | None = Field(
        None,
        pattern=STEP_NAME_PATTERN,
        description="Run fresh from this step of the parent (GET /v1/jobs/{id}/steps lists "
        "them); every step the parent finished before it is taken as it was. Null: take the "
        "parent's steps while they ask exactly what the parent asked.",
    )
    input: dict[str, Any] = Field(
        default_factory=dict,
        max_length=100,
        description="Input fields to change; the rest are the parent's.",
        examples=[{"max_words": 30}],
    )
    options: dict[str, Any] = Field(
        default_factory=dict, max_length=20, description="Option fields to change."
    )
    reuse_answers: bool = Field(
        False,
        description="Take the answers people gave the parent (before `from_step`) instead of "
        "asking again.",
    )


class JobStep(BaseModel):
    """One step of a job, as recorded."""

    name: str
    kind: StepKind
    model: str | None
    source: str = Field(
        description="model, cache or journal for a model's answer; parent or recording for a "
        "step taken from a record; tool; or how a person's answer came (api, inbox, ...)."
    )
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    started_at: datetime
    ended_at: datetime


class JobSteps(BaseModel):
    steps: list[JobStep]


class CassetteCreated(BaseModel):
    id: str = Field(description="Give it as `options.replay_from` to replay it.")
    type: str
    steps: int
