"""A reviewer's inbox: the waiting questions of the jobs granted to their groups, found in
Temporal's visibility (`JobReviewers`, `JobWaitingFor`, the question in the `waiting_for`
memo), with claims kept in the database."""

from __future__ import annotations

from datetime import timedelta

import structlog
from temporalio.client import Client

from api.job_views import quote
from api.page_tokens import sign, unsign
from api.schemas import ClaimView, InboxItem, InboxPage
from core.config import Reviewer, Settings
from core.contracts.human import WAITING_MEMO, WaitingFor
from core.errors import InvalidInput, JobConflict, QuestionNotFound
from core.temporal import JOB_REVIEWERS, JOB_TYPE, JOB_WAITING_FOR
from store import Stores
from store.database import outage_as_unavailable

log = structlog.get_logger(__name__)

# Waiting jobs read per listing: an inbox is a queue of work, not an archive.
MAX_SCAN = 1000


class Inbox:
    """Every call is scoped to `reviewer`: a question of a job not granted to one of their
    groups is indistinguishable from none."""

    def __init__(
        self, client: Client, settings: Settings, reviewer: Reviewer, stores: Stores
    ) -> None:
        self._client = client
        self._settings = settings
        self._reviewer = reviewer
        self._stores = stores
        self._rpc_timeout = timedelta(seconds=settings.rpc_timeout_s)

    async def items(self, job_type: str | None = None, group: str | None = None) -> list[InboxItem]:
        """The reviewer's questions, the soonest deadline first."""
        groups = sorted(self._reviewer.groups if group is None else {group} & self._reviewer.groups)
        if not groups:
            return []
        clauses = [
            f"{JOB_REVIEWERS.name} IN ({', '.join(quote(g) for g in groups)})",
            "ExecutionStatus = 'Running'",
            f"{JOB_WAITING_FOR.name} IS NOT NULL",
        ]
        if job_type:
            clauses.append(f"{JOB_TYPE.name} = {quote(job_type)}")
        found: list[InboxItem] = []
        async for execution in self._client.list_workflows(
            " AND ".join(clauses), limit=MAX_SCAN, page_size=200, rpc_timeout=self._rpc_timeout
        ):
            waiting = await execution.memo_value(WAITING_MEMO, None)
            if not waiting:
                continue  # between a question and its memo
            question = WaitingFor.model_validate(waiting)
            attributes = execution.typed_search_attributes
            found.append(
                InboxItem(
                    job_id=execution.id,
                    job_type=attributes.get(JOB_TYPE) or execution.workflow_type,
                    question_id=question.id,
                    name=question.name,
                    prompt=question.prompt,
                    context=question.context,
                    answer_schema=question.answer_schema,
                    asked_at=question.asked_at,
                    deadline=question.deadline,
                    groups=sorted(self._reviewer.groups & set(attributes.get(JOB_REVIEWERS) or ())),
                )
            )
        async with outage_as_unavailable():
            claims = await self._stores.claims.holders([(i.job_id, i.question_id) for i in found])
        for item in found:
            claim = claims.get((item.job_id, item.question_id))
            if claim is not None:
                item.claimed_by, item.claim_expires_at = claim.reviewer, claim.expires_at
        found.sort(key=lambda item: (item.deadline, item.job_id))
        return found

    async def page(
        self, limit: int, page_token: str | None, job_type: str | None, group: str | None
    ) -> InboxPage:
        token = unsign(page_token, self._principal, self._settings)
        start = int.from_bytes(token, "big") if token else 0
        items = await self.items(job_type, group)
        shown = items[start : start + limit]
        after = start + len(shown)
        return InboxPage(
            items=shown,
            next_page_token=(
                sign(after.to_bytes(4, "big"), self._principal, self._settings)
                if after < len(items)
                else None
            ),
        )

    async def find(self, question_id: str) -> InboxItem:
        for item in await self.items():
            if item.question_id == question_id:
                return item
        raise QuestionNotFound(question_id)

    async def claim(self, question_id: str) -> ClaimView:
        """Claim the question for a while (AIJOBS_CLAIM_TTL_S); 409 naming whoever holds it."""
        item = await self.find(question_id)
        ttl = timedelta(seconds=self._settings.claim_ttl_s)
        async with outage_as_unavailable():
            claim = await self._stores.claims.claim(
                item.job_id, question_id, self._reviewer.name, ttl
            )
        if claim.reviewer != self._reviewer.name:
            raise JobConflict(
                f"question {question_id!r} is claimed by {claim.reviewer} until "
                f"{claim.expires_at.isoformat(timespec='seconds')}"
            )
        log.info("inbox.claimed", question_id=question_id, reviewer=self._reviewer.name)
        return ClaimView(
            question_id=question_id,
            job_id=item.job_id,
            claimed_by=claim.reviewer,
            expires_at=claim.expires_at,
        )

    async def release(self, question_id: str) -> ClaimView:
        item = await self.find(question_id)
        async with outage_as_unavailable():
            released = await self._stores.claims.release(
                item.job_id, question_id, self._reviewer.name
            )
        if not released and item.claimed_by not in (None, self._reviewer.name):
            raise JobConflict(f"question {question_id!r} is claimed by {item.claimed_by}, not you")
        return ClaimView(question_id=question_id, job_id=item.job_id, claimed_by=None)

    @property
    def _principal(self) -> str:
        return f"reviewer:{self._reviewer.name}"


def check_group(group: str | None, reviewer: Reviewer) -> None:
    if group is not None and group not in reviewer.groups:
        raise InvalidInput(
            ("query", "group"),
            f"you are not in group {group!r}; your groups: {', '.join(sorted(reviewer.groups))}",
        )
