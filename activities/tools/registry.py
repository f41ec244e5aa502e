"""The tool registry: one typed async function per tool, its argument model, and how to run it."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from temporalio.common import RetryPolicy

if TYPE_CHECKING:
    import httpx

    from activities.tools.documents import DocumentStore
    from activities.tools.tickets import TicketStore

Args = TypeVar("Args", bound=BaseModel)


class ToolError(Exception):
    """A tool call that cannot succeed as asked (bad host, division by zero): the model is told."""


@dataclass(frozen=True)
class ToolContext:
    """What a tool may use: the worker's clients and stores, and who the call is for."""

    http: httpx.AsyncClient
    documents: DocumentStore
    tickets: TicketStore
    fetch_allowed_hosts: frozenset[str]
    fetch_max_bytes: int
    owner: str
    job_id: str
    # Derived from workflow id, step and call: the same on every retry of this call.
    idempotency_key: str


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args_model: type[BaseModel]
    run: Callable[[Any, ToolContext], Awaitable[str]]
    side_effects: bool
    timeout: timedelta
    retry: RetryPolicy

    def openai_schema(self) -> dict[str, Any]:
        """The Chat Completions `tools` entry, generated from the argument model."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.args_model.model_json_schema(),
            },
        }


TOOLS: dict[str, Tool] = {}


def tool(
    *,
    side_effects: bool = False,
    timeout: timedelta = timedelta(seconds=30),
    retry: RetryPolicy | None = None,
) -> Callable[
    [Callable[[Args, ToolContext], Awaitable[str]]], Callable[[Args, ToolContext], Awaitable[str]]
]:
    """Register `async def name(args: SomeArgs, ctx: ToolContext) -> str`; the docstring is its
    description for the model."""

    def register(
        fn: Callable[[Args, ToolContext], Awaitable[str]],
    ) -> Callable[[Args, ToolContext], Awaitable[str]]:
        args_model = next(iter(inspect.signature(fn, eval_str=True).parameters.values())).annotation
        TOOLS[fn.__name__] = Tool(
            name=fn.__name__,
            description=inspect.cleandoc(fn.__doc__ or fn.__name__),
            args_model=args_model,
            run=fn,
            side_effects=side_effects,
            timeout=timeout,
            # Read-only tools retry freely; side effects retry too, made safe by idempotency keys.
            retry=retry or RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30)),
        )
        return fn

    return register
