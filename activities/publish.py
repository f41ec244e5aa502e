"""Publishing approved text: a side effect that lands once however often it is retried."""

from __future__ import annotations

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.llm_errors import retry_after
from activities.step_log import StepLog
from core.contracts.llm import TokenUsage
from core.contracts.publish import PUBLISH_DRAFT, PublishReceipt, PublishRequest
from store import Outbox

log = structlog.get_logger(__name__)


class PublishActivities:
    """Posts to AIJOBS_PUBLISH_WEBHOOK with an Idempotency-Key, or writes to the local outbox."""

    def __init__(
        self,
        webhook: str | None,
        outbox: Outbox,
        http: httpx.AsyncClient,
        steps: StepLog | None = None,
    ) -> None:
        self._steps = steps or StepLog(None)
        self._webhook = webhook
        self._outbox = outbox
        self._http = http

    @activity.defn(name=PUBLISH_DRAFT)
    async def publish_draft(self, request: PublishRequest) -> PublishReceipt:
        asked = {"round": request.round, "text": request.text}
        step = self._steps.begin(request.recording, request.owner, request.step, "tool", asked)
        if row := await step.taken():
            # The parent published it: its receipt, and no second publication.
            log.info("publish.reused", idempotency_key=row.answer.get("idempotency_key"))
            return PublishReceipt.model_validate(row.answer)
        if self._webhook is None:
            added = await self._outbox.add(
                request.idempotency_key, request.job_id, request.round, request.text
            )
            receipt = PublishReceipt(
                idempotency_key=request.idempotency_key, destination="outbox", duplicate=not added
            )
        else:
            receipt = await self._post(self._webhook, request)
        log.info(
            "publish.done",
            destination=receipt.destination,
            duplicate=receipt.duplicate,
            idempotency_key=request.idempotency_key,
        )
        await step.ran(receipt.model_dump(mode="json"), None, "tool", TokenUsage())
        return receipt

    async def _post(self, url: str, request: PublishRequest) -> PublishReceipt:
        try:
            response = await self._http.post(
                url,
                json=request.model_dump(mode="json"),
                headers={"Idempotency-Key": request.idempotency_key},
            )
        except httpx.HTTPError as err:
            raise ApplicationError(
                f"could not reach the publish webhook: {type(err).__name__}",
                type="PublishUnreachable",
            ) from err
        status = response.status_code
        if status < 300 or status == 409:
            # 409: the receiver already has this key, which is what a retry should find.
            return PublishReceipt(
                idempotency_key=request.idempotency_key,
                destination="webhook",
                duplicate=status == 409,
            )
        detail = f"publish webhook answered {status}"
        if status in (408, 429) or status >= 500:
            raise ApplicationError(
                detail, type="PublishFailed", next_retry_delay=retry_after(response.headers)
            )
        raise ApplicationError(detail, type="PublishRejected", non_retryable=True)
