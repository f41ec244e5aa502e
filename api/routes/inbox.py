"""Routes of a reviewer's inbox: the questions they may answer, and claims on them. Answers go
through `POST /v1/jobs/{id}/input`, open to a job's reviewers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic.json_schema import SkipJsonSchema

from api.deps import CurrentReviewer, SettingsDep, StoresDep, TemporalClient
from api.inbox import Inbox, check_group
from api.responses import V1, errors
from api.schemas import ClaimView, InboxPage
from core.contracts.human import GROUP_PATTERN
from core.jobs import JOB_TYPES

router = APIRouter(prefix="/v1/inbox", tags=["inbox"], responses=errors(*V1))

QuestionId = Annotated[
    str, Path(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$", description="Its id.")
]


def _inbox(
    reviewer: CurrentReviewer, client: TemporalClient, settings: SettingsDep, stores: StoresDep
) -> Inbox:
    return Inbox(client, settings, reviewer, stores)


InboxDep = Annotated[Inbox, Depends(_inbox)]


@router.get("", response_model=InboxPage)
async def list_inbox(
    inbox: InboxDep,
    reviewer: CurrentReviewer,
    type: Annotated[
        str | SkipJsonSchema[None],
        Query(pattern="^(?:" + "|".join(JOB_TYPES) + ")$", description="Only this job type."),
    ] = None,
    group: Annotated[
        str | SkipJsonSchema[None], Query(pattern=GROUP_PATTERN, description="Only this group.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    page_token: Annotated[str | SkipJsonSchema[None], Query(max_length=4096)] = None,
) -> InboxPage:
    """The questions you may answer, the soonest deadline first, with who claimed each."""
    check_group(group, reviewer)
    return await inbox.page(limit, page_token, type, group)


@router.post("/{question_id}/claim", response_model=ClaimView, responses=errors(404, 409))
async def claim_question(question_id: QuestionId, inbox: InboxDep) -> ClaimView:
    """Work on it: others see your claim, and their answers are a 409, until it lapses."""
    return await inbox.claim(question_id)


@router.post("/{question_id}/release", response_model=ClaimView, responses=errors(404, 409))
async def release_question(question_id: QuestionId, inbox: InboxDep) -> ClaimView:
    """Let go of your claim."""
    return await inbox.release(question_id)
