"""`create_ticket`: a side effect, written once per idempotency key however often it is retried."""

from __future__ import annotations

from activities.tools.registry import ToolContext, implements
from core.contracts.tools import CreateTicketArgs


@implements("create_ticket")
async def create_ticket(args: CreateTicketArgs, ctx: ToolContext) -> str:
    ticket_id, created = await ctx.tickets.create(ctx.idempotency_key, ctx.owner, ctx.job_id, args)
    return f"created ticket {ticket_id}" if created else f"ticket {ticket_id} already exists"
