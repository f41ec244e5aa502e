"""`search_documents`: full-text search over the documents an owner gave its jobs."""

from __future__ import annotations

from activities.tools.registry import ToolContext, implements
from core.contracts.tools import SearchDocumentsArgs


@implements("search_documents")
async def search_documents(args: SearchDocumentsArgs, ctx: ToolContext) -> str:
    hits = await ctx.documents.search(ctx.owner, args.query, args.limit)
    if not hits:
        return "no matching documents"
    return "\n".join(f"{name}: {passage}" for name, passage in hits)
