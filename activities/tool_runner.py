"""Running one tool call as an activity, and storing the documents an agent job brings."""

from __future__ import annotations

import httpx
import structlog
from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.step_log import StepLog
from activities.tools import TOOLS, ToolContext, ToolError
from activities.tools.registry import AddressCheck, CollectionSearch
from core.contracts.llm import TokenUsage
from core.contracts.tools import (
    INVALID_ARGUMENTS,
    RUN_TOOL,
    STORE_DOCUMENTS,
    TOOL_REFUSED,
    UNKNOWN_TOOL,
    StoreDocumentsRequest,
    ToolRequest,
    ToolResult,
)
from store import DocumentStore, TicketStore

log = structlog.get_logger(__name__)

# What goes back to the model (and into history) from one call, at most.
MAX_RESULT_CHARS = 4000


class ToolActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        documents: DocumentStore,
        tickets: TicketStore,
        fetch_allowed_hosts: frozenset[str],
        fetch_max_bytes: int,
        fetch_addresses: AddressCheck,
        search_collection: CollectionSearch | None = None,
        steps: StepLog | None = None,
    ) -> None:
        self._steps = steps or StepLog(None)
        self._search_collection = search_collection
        self._http = http
        self._documents = documents
        self._tickets = tickets
        self._allowed = fetch_allowed_hosts
        self._max_bytes = fetch_max_bytes
        self._addresses = fetch_addresses

    @activity.defn(name=RUN_TOOL)
    async def run_tool(self, request: ToolRequest) -> ToolResult:
        """Run a call the workflow already validated; arguments are checked again here."""
        tool = TOOLS.get(request.tool)
        if tool is None:
            raise ApplicationError(
                f"no tool named {request.tool!r}", type=UNKNOWN_TOOL, non_retryable=True
            )
        try:
            args = tool.spec.args_model.model_validate(request.arguments)
        except ValidationError as err:
            raise ApplicationError(str(err), type=INVALID_ARGUMENTS, non_retryable=True) from None
        asked = {"tool": request.tool, "arguments": request.arguments}
        step = self._steps.begin(request.recording, request.owner, request.step, "tool", asked)
        if row := await step.taken():
            # The parent (or the recording) performed it: its result, and no second effect.
            log.info("tool.reused", tool=request.tool, source=step.source)
            return ToolResult.model_validate(row.answer)
        context = ToolContext(
            http=self._http,
            documents=self._documents,
            tickets=self._tickets,
            fetch_allowed_hosts=self._allowed,
            fetch_addresses=self._addresses,
            fetch_max_bytes=self._max_bytes,
            owner=request.owner,
            job_id=request.job_id,
            idempotency_key=request.idempotency_key,
            document_ids=tuple(request.documents),
            collections=tuple(request.collections),
            search_collection=self._search_collection,
        )
        try:
            content = await tool.run(args, context)
        except ToolError as err:
            raise ApplicationError(str(err), type=TOOL_REFUSED, non_retryable=True) from None
        log.info("tool.completed", tool=request.tool, chars=len(content))
        result = ToolResult(
            content=content[:MAX_RESULT_CHARS], truncated=len(content) > MAX_RESULT_CHARS
        )
        await step.ran(result.model_dump(), None, "tool", TokenUsage())
        return result

    @activity.defn(name=STORE_DOCUMENTS)
    async def store_documents(self, request: StoreDocumentsRequest) -> int:
        """Store documents a job brought inline; returns how many (ids are content digests)."""
        return len(await self._documents.put(request.owner, request.documents))
