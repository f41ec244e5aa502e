"""The code behind each tool: one typed async function per spec in `core.contracts.tools`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from pydantic import BaseModel

from core.addresses import IPAddress
from core.contracts.tools import TOOL_SPECS, ToolSpec
from store import DocumentStore, TicketStore
from store.collections import Hit

if TYPE_CHECKING:
    import httpx

Args = TypeVar("Args", bound=BaseModel)
Run = Callable[[Args, "ToolContext"], Awaitable[str]]
CollectionSearch: TypeAlias = Callable[[str, str, str, int], Awaitable[list[Hit]]]
# Resolves (host, port) for fetch_url into the addresses it may connect to, or raises ToolError.
AddressCheck: TypeAlias = Callable[[str, int], Awaitable[list[IPAddress]]]


class ToolError(Exception):
    """A tool call that cannot succeed as asked (bad host, division by zero): the model is told."""


@dataclass(frozen=True)
class ToolContext:
    """What a tool may use: the worker's clients and stores, and who the call is for."""

    http: httpx.AsyncClient
    documents: DocumentStore
    tickets: TicketStore
    fetch_allowed_hosts: frozenset[str]
    fetch_addresses: AddressCheck
    fetch_max_bytes: int
    owner: str
    job_id: str
    # Derived from workflow id, step and call: the same on every retry of this call.
    idempotency_key: str
    # The documents the job was given (ids): a search reads these and no others.
    document_ids: tuple[str, ...] = ()
    # The owner's collections the job named, and the hybrid search over one of them
    # (owner, collection, query, k): a search reads these collections and no others.
    collections: tuple[str, ...] = ()
    search_collection: CollectionSearch | None = None


@dataclass(frozen=True)
class Tool:
    spec: ToolSpec
    run: Callable[[Any, ToolContext], Awaitable[str]]


TOOLS: dict[str, Tool] = {}


def implements(name: str) -> Callable[[Run[Args]], Run[Args]]:
    """Register `async def fn(args: TheSpecsArgs, ctx: ToolContext) -> str` as tool `name`."""
    spec = TOOL_SPECS[name]

    def register(fn: Run[Args]) -> Run[Args]:
        TOOLS[name] = Tool(spec=spec, run=fn)
        return fn

    return register
