"""A rerun planned from its parent's records: the parent's request with the caller's edits,
and where its steps come from (the parent's records up to `from_step`, or while identical)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from api.job_views import links
from api.schemas import JobCreate, RerunCreate
from core.config import Settings
from core.contracts.human import AnswerRecord
from core.contracts.recording import Recording
from core.errors import InvalidInput, JobConflict
from store import Stores
from store.database import outage_as_unavailable


@dataclass(frozen=True)
class Rerun:
    """A start that reruns another job of the owner's: where its steps come from."""

    recording: Recording
    reuse_answers: bool = False


async def planned_rerun(
    owner: str, parent: str, body: RerunCreate, settings: Settings, stores: Stores
) -> tuple[JobCreate, Rerun]:
    """The rerun's start request and its recording. The parent must be the owner's (the
    route checked it); its records must still be kept (409) and have `from_step` (422)."""
    async with outage_as_unavailable():
        request = await stores.requests.get(owner, parent)
        steps = await stores.steps.steps(owner, parent)
    if request is None:
        raise no_records(parent, "rerun from", settings)
    before = None
    if body.from_step is not None:
        named = {s.name: s for s in steps}
        if body.from_step not in named:
            listed = ", ".join(s.name for s in steps) or "none"
            raise InvalidInput(
                ("body", "from_step"),
                f"job {parent!r} has no step {body.from_step!r}; its steps: {listed}",
            )
        before = named[body.from_step].started_at
    answers: dict[str, AnswerRecord] = {}
    if body.reuse_answers:
        answers = {
            s.name: AnswerRecord.model_validate(s.answer)
            for s in steps
            if s.kind == "human" and (before is None or (s.ended_at or s.started_at) <= before)
        }
    if "replay_from" in body.options:
        raise InvalidInput(
            ("body", "options", "replay_from"),
            "a rerun takes its steps from its parent; start a job to replay a recording",
        )
    options = {k: v for k, v in request.options.items() if k != "replay_from"}
    try:
        start = JobCreate.model_validate(
            {
                "type": request.type,
                "input": {**request.input, **body.input},
                "options": {**options, **body.options},
            }
        )
    except ValidationError as err:
        raise InvalidInput(("body", "options"), _first_error(err), errors=_below(err)) from None
    recording = Recording(
        source=parent,
        mode="identical" if body.from_step is None else "fork",
        before=before,
        from_step=body.from_step,
        answers=answers,
    )
    return start, Rerun(recording, body.reuse_answers)


def no_records(job_id: str, purpose: str, settings: Settings) -> JobConflict:
    """The 409 for a job of the owner's whose request is not (or no longer) kept."""
    return JobConflict(
        f"job {job_id!r} has no recorded request to {purpose}: a job started through the API "
        "(a start or a rerun) keeps its request and steps AIJOBS_JOURNAL_RETENTION_DAYS "
        f"({settings.journal_retention_days:g}) days; a schedule's jobs keep none"
    )


def rerun_details(settings: Settings, rerun: Rerun) -> str:
    """The rerun's details in the Temporal UI: a link to its parent."""
    parent = rerun.recording.source
    ui = links(settings, parent, None).ui
    where = f" from step `{rerun.recording.from_step}`" if rerun.recording.from_step else ""
    return f"Rerun of [{parent}]({ui}){where}."


def _first_error(err: ValidationError) -> str:
    first = err.errors(include_url=False)[0]
    return f"body.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


def _below(err: ValidationError) -> list[dict[str, Any]]:
    """The errors located below `options` (the only field that can fail here)."""
    return [
        {**e, "loc": list(e["loc"][1:])}
        for e in err.errors(include_url=False, include_context=False, include_input=False)
    ]
