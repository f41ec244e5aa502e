"""Running one tool call as an activity, and storing the documents an agent job brings."""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from pydantic import BaseModel, Field, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.tools import TOOLS, ToolContext, ToolError
from activities.tools.documents import Document, DocumentStore
from activities.tools.tickets import TicketStore

log = structlog.get_logger(__name__)

# What goes back to the model (and into history) from one call, at most.
MAX_RESULT_CHARS = 4000


class ToolRequest(BaseModel):
    tool: str
    arguments: dict[str, Any]
    idempotency_key: str
    owner: str
    job_id: str


class ToolResult(BaseModel):
    content: str
    truncated: bool = False


class StoreDocumentsRequest(BaseModel):
    owner: str
    job_id: str
    documents: list[Document] = Field(default_factory=list)


class ToolActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        documents: DocumentStore,
        tickets: TicketStore,
        fetch_allowed_hosts: frozenset[str],
        fetch_max_bytes: int,
    ) -> None:
        self._http = http
        self._documents = documents
        self._tickets = tickets
        self._allowed = fetch_allowed_hosts
        self._max_bytes = fetch_max_bytes

    @activity.defn(name="run_tool")
    async def run_tool(self, request: ToolRequest) -> ToolResult:
        """Run a call the workflow already validated; arguments are checked again here."""
        tool = TOOLS.get(request.tool)
        if tool is None:
            raise ApplicationError(
                f"no tool named {request.tool!r}", type="UnknownTool", non_retryable=True
            )
        try:
            args = tool.args_model.model_validate(request.arguments)
        except ValidationError as err:
            raise ApplicationError(str(err), type="InvalidArguments", non_retryable=True) from None
        context = ToolContext(
            http=self._http,
            documents=self._documents,
            tickets=self._tickets,
            fetch_allowed_hosts=self._allowed,
            fetch_max_bytes=self._max_bytes,
            owner=request.owner,
            job_id=request.job_id,
            idempotency_key=request.idempotency_key,
        )
        try:
            content = await tool.run(args, context)
        except ToolError as err:
            raise ApplicationError(str(err), type="ToolFailed", non_retryable=True) from None
        log.info("tool.completed", tool=tool.name, chars=len(content))
        if len(content) > MAX_RESULT_CHARS:
            return ToolResult(content=content[:MAX_RESULT_CHARS], truncated=True)
        return ToolResult(content=content)

    @activity.defn(name="store_documents")
    async def store_documents(self, request: StoreDocumentsRequest) -> int:
        return await self._documents.put(request.owner, request.job_id, request.documents)
