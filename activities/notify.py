"""Telling a person that a job needs them: a log line always, a webhook when one is set."""

from __future__ import annotations

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.contracts.publish import NOTIFY_PERSON, NotifyRequest

log = structlog.get_logger(__name__)


class NotifyActivities:
    def __init__(self, webhook: str | None, http: httpx.AsyncClient, public_url: str = "") -> None:
        self._webhook = webhook
        self._http = http
        self._public_url = public_url.rstrip("/")

    @activity.defn(name=NOTIFY_PERSON)
    async def notify_person(self, request: NotifyRequest) -> bool:
        """Returns whether a webhook was told; the log line is written either way. A question
        asked of reviewers carries the link to its page in the inbox."""
        if request.event == "asked":
            log.info("human.asked", job_id=request.job_id, name=request.name, groups=request.groups)
        else:
            log.warning(
                "human.escalated", job_id=request.job_id, name=request.name, reason=request.reason
            )
        if self._webhook is None:
            return False
        body = request.model_dump(mode="json")
        if request.question_id is not None:
            body["link"] = f"{self._public_url}/inbox/questions/{request.question_id}"
        try:
            response = await self._http.post(self._webhook, json=body)
            response.raise_for_status()
        except httpx.HTTPError as err:
            raise ApplicationError(
                f"notify webhook failed: {type(err).__name__}", type="NotifyFailed"
            ) from err
        return True
